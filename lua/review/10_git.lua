-- Review rules: git. Each rule names one matcher (under_dir, name,
-- path_suffix, name_suffix or match(change)) and the reason shown at unlock.
return {
	{ under_dir = { ".git", "hooks" },
	  reason = "git runs hook scripts on commit, checkout, merge, push..." },
	{ path_suffix = { ".git", "config" },
	  reason = "can name programs git executes (core.hooksPath, core.fsmonitor, filters, aliases, sshCommand)" },
	{ path_suffix = { ".git", "config.worktree" },
	  reason = "per-worktree git config can name programs git executes (hooksPath, fsmonitor, filters)" },
	{ path_suffix = { ".git", "info", "attributes" },
	  reason = "binds filter/diff drivers that git runs" },
	{ match = function(c)
		local p = "/" .. c.path
		if not p:find("/%.git/modules/") then return nil end
		return p:match("/config$") ~= nil or p:match("/hooks/") ~= nil
	  end,
	  reason = "submodule git config or hooks can run programs" },
	{ name = ".gitattributes", reason = "binds filter/diff drivers that git runs" },
	{ name = ".gitmodules", reason = "controls what submodule update fetches and checks out" },
	{ name = ".gitconfig", reason = "git config included from here can name programs git executes" },
	{ name = ".lfsconfig", reason = "git-lfs reads it on checkout and push (endpoints, transfer agents)" },
	{ under_dir = { ".husky" }, reason = "git hooks managed by husky" },
	{ name = ".pre-commit-config.yaml", reason = "pre-commit hooks run on commit" },
	{ name = ".pre-commit-config.yml", reason = "pre-commit hooks run on commit" },
	{ name = ".pre-commit-hooks.yaml", reason = "defines hooks pre-commit runs" },
	{ name = "lefthook.yml", reason = "git hooks managed by lefthook" },
	{ name = ".lefthook.yml", reason = "git hooks managed by lefthook" },
}
