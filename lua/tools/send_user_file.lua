-- SendUserFile: send a workspace file to the user (tools.md 5.2).
return {
  name = "SendUserFile",
  description = "Send a file from the workspace to the user; every client shows it. Pass the "
    .. "path, never the content: the harness reads the real file from the sandbox.",
  agents = "top",
  owner = "frontend",
  frontends = { "interactive", "mock" },
  schema = {
    type = "object",
    properties = {
      path = { type = "string", description = "Path of the file in the workspace." },
      caption = { type = "string", description = "Optional caption shown with the file." },
    },
    required = { "path" },
  },
  run = function(input, ctx)
    local path = input.path
    if type(path) ~= "string" or path == "" then
      return { content = "SendUserFile requires a 'path' string", is_error = true }
    end
    local name = path:match("([^/]+)/*$")
    if not name or name == "." or name == ".." or path:sub(-1) == "/" then
      return { content = string.format('the path "%s" has no file name', path), is_error = true }
    end
    local caption = input.caption
    if type(caption) ~= "string" or caption == "" then caption = nil end
    local sent, err = silo.frontend.send_file({ path = path, name = name, caption = caption })
    if not sent then
      return { content = err, is_error = true }
    end
    return { content = sent, is_error = false }
  end,
}
