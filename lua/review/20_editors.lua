-- Review rules: editors and IDEs that run commands when a folder opens.
return {
	{ under_dir = { ".vscode" }, reason = "tasks/settings/launch can run commands when the folder opens" },
	{ name_suffix = ".code-workspace", reason = "VS Code workspace settings and tasks" },
	{ under_dir = { ".idea" }, reason = "JetBrains run configurations and tool settings" },
	{ under_dir = { ".devcontainer" }, reason = "dev container definitions run commands (postCreateCommand, build)" },
	{ name = ".devcontainer.json", reason = "dev container definitions run commands (postCreateCommand, build)" },
	{ name = "devcontainer.json", reason = "dev container definitions run commands (postCreateCommand, build)" },
	{ name = ".exrc", reason = "vim/neovim with 'exrc' executes it on start in this directory" },
	{ name = ".nvimrc", reason = "neovim with 'exrc' executes it on start in this directory" },
	{ name = ".nvim.lua", reason = "neovim with 'exrc' executes it on start in this directory" },
	{ name = ".vimrc", reason = "vim configuration can run commands" },
	{ under_dir = { ".zed" }, reason = "Zed tasks and settings can run commands" },
	{ under_dir = { ".fleet" }, reason = "Fleet run configurations" },
}
