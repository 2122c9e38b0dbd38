-- Review rules: shells and direnv.
local rc = {
	[".bashrc"] = true, [".bash_profile"] = true, [".bash_login"] = true, [".bash_logout"] = true,
	[".profile"] = true, [".zshrc"] = true, [".zshenv"] = true, [".zprofile"] = true,
	[".zlogin"] = true, [".kshrc"] = true, [".cshrc"] = true, [".tcshrc"] = true,
	[".inputrc"] = true, ["config.fish"] = true,
}
return {
	{ name = ".envrc", reason = "direnv executes it on entering the directory" },
	{ under_dir = { ".direnv" }, reason = "direnv loads it on entering the directory" },
	{ name = ".env.local.sh", reason = "sourced by shell setups on entering the directory" },
	{ match = function(c)
		local name = c.path:match("([^/]+)$")
		return name ~= nil and rc[name] == true
	  end,
	  reason = "shell startup file: a shell started here or with this HOME runs it" },
}
