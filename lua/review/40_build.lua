-- Review rules: package managers and build systems that run code from the
-- tree on install or build.

-- package.json: flagged only when keys that make npm/yarn/pnpm run
-- something change (decisions 40).
local lifecycle = { "scripts", "bin", "gypfile", "config", "husky", "pre-commit",
	"simple-git-hooks", "lint-staged", "packageManager", "directories" }

local function same(a, b)
	if type(a) ~= type(b) then return false end
	if type(a) ~= "table" then return a == b end
	for k, v in pairs(a) do
		if not same(v, b[k]) then return false end
	end
	for k in pairs(b) do
		if a[k] == nil then return false end
	end
	return true
end

local function decode(text)
	if text == nil then return {} end
	local ok, v = pcall(silo.json.decode, text)
	if ok and type(v) == "table" then return v end
	return nil
end

local function basename(p)
	return p:match("([^/]+)$")
end

local function package_json(c)
	if basename(c.path) ~= "package.json" then return nil end
	if (c.old_kind and c.old_kind ~= "file") or (c.new_kind and c.new_kind ~= "file") then
		return "package.json changed type"
	end
	if (c.old_kind == "file" and c.old_text == nil) or (c.new_kind == "file" and c.new_text == nil) then
		return "package.json is not text; npm may run scripts from it"
	end
	local old, new = decode(c.old_text), decode(c.new_text)
	if old == nil or new == nil then
		return "package.json changed and is not valid JSON; npm lifecycle scripts (e.g. postinstall) cannot be checked"
	end
	local changed = {}
	for _, k in ipairs(lifecycle) do
		if not same(old[k], new[k]) then changed[#changed + 1] = k end
	end
	if #changed == 0 then return nil end
	return "npm lifecycle scripts (e.g. postinstall) and tools: changed " .. table.concat(changed, ", ")
end

-- pyproject.toml: flagged when the build system or build hooks change.
local function toml_sections(text)
	local out, cur = {}, ""
	for line in ((text or "") .. "\n"):gmatch("([^\n]*)\n") do
		local sec = line:match("^%s*%[+%s*([^%]]-)%s*%]+")
		if sec then cur = sec end
		if cur:match("^build%-system") or cur:match("hooks") or cur:match("^tool%.setuptools")
			or cur:match("^tool%.hatch%.build") or cur:match("^tool%.poetry%.build")
			or cur:match("^tool%.pdm%.build") or cur:match("^tool%.scikit%-build") then
			out[#out + 1] = line
		end
	end
	return table.concat(out, "\n")
end

local function pyproject(c)
	if basename(c.path) ~= "pyproject.toml" then return nil end
	if c.old_text == nil and c.old_kind == "file" or c.new_text == nil and c.new_kind == "file" then
		return "pyproject.toml is not text"
	end
	if toml_sections(c.old_text) ~= toml_sections(c.new_text) then
		return "build backend or build hooks changed: pip runs them on install"
	end
	return nil
end

return {
	{ match = package_json },
	{ name = ".npmrc", reason = "npm config can set script-shell, node-options and registries" },
	{ name = ".yarnrc", reason = "yarn config can point at programs yarn runs" },
	{ name = ".yarnrc.yml", reason = "yarn config can load plugins and yarnPath (code yarn runs)" },
	{ under_dir = { ".yarn", "plugins" }, reason = "yarn plugins run inside yarn" },
	{ under_dir = { ".yarn", "releases" }, reason = "yarnPath releases are the yarn that runs" },
	{ name = ".pnpmfile.cjs", reason = "pnpm runs its hooks on install" },
	{ name = ".pnpmrc", reason = "pnpm config can change what install runs" },
	{ name = "bunfig.toml", reason = "bun config can preload scripts" },
	{ name = "build.rs", reason = "cargo compiles and runs it during builds" },
	{ path_suffix = { ".cargo", "config.toml" }, reason = "runner / rustc-wrapper redirect cargo commands" },
	{ path_suffix = { ".cargo", "config" }, reason = "runner / rustc-wrapper redirect cargo commands" },
	{ name = "rust-toolchain", reason = "selects the toolchain rustup downloads and runs" },
	{ name = "rust-toolchain.toml", reason = "selects the toolchain rustup downloads and runs" },
	{ name = "setup.py", reason = "pip and setuptools execute it on install and build" },
	{ match = pyproject },
	{ name = "setup.cfg", reason = "setuptools configuration (entry points, build commands)" },
	{ name = "conftest.py", reason = "pytest imports and runs it automatically" },
	{ name = "noxfile.py", reason = "nox runs it" },
	{ name = "tox.ini", reason = "tox runs the commands it lists" },
	{ name = "Makefile", reason = "make runs its recipes" },
	{ name = "makefile", reason = "make runs its recipes" },
	{ name = "GNUmakefile", reason = "make runs its recipes" },
	{ name_suffix = ".mk", reason = "included by Makefiles; make runs its recipes" },
	{ name = "CMakeLists.txt", reason = "cmake runs it at configure time (execute_process, custom commands)" },
	{ name_suffix = ".cmake", reason = "included by CMake at configure time" },
	{ name = "CMakePresets.json", reason = "selects toolchains and cache scripts cmake runs" },
	{ name = "CMakeUserPresets.json", reason = "selects toolchains and cache scripts cmake runs" },
	{ name = "meson.build", reason = "meson runs it at configure time" },
	{ name = "configure", reason = "run by the usual build instructions" },
	{ name = "configure.ac", reason = "generates the configure script" },
	{ name = "Gemfile", reason = "bundler evaluates it as Ruby" },
	{ name = "Rakefile", reason = "rake runs it" },
	{ name_suffix = ".gemspec", reason = "bundler and gem evaluate it as Ruby" },
	{ name = "Justfile", reason = "just runs its recipes" },
	{ name = "justfile", reason = "just runs its recipes" },
	{ name = "Taskfile.yml", reason = "task runs its commands" },
	{ name = "build.gradle", reason = "gradle runs it" },
	{ name = "build.gradle.kts", reason = "gradle runs it" },
	{ name = "settings.gradle", reason = "gradle runs it" },
	{ name = "settings.gradle.kts", reason = "gradle runs it" },
	{ name = "gradlew", reason = "the gradle wrapper script people run" },
	{ name = "gradle-wrapper.properties", reason = "selects the gradle distribution that is downloaded and run" },
	{ name = "pom.xml", reason = "maven plugins run during builds" },
	{ under_dir = { ".mvn" }, reason = "maven wrapper and extensions run during builds" },
	{ name = "Directory.Build.props", reason = "MSBuild imports it into every build" },
	{ name = "Directory.Build.targets", reason = "MSBuild imports it into every build" },
	{ name = "go.work", reason = "redirects which modules go builds" },
	{ name = "Dockerfile", reason = "docker build runs its RUN steps" },
	{ name = ".tool-versions", reason = "asdf/mise install and run the tools it names" },
	{ name = ".mise.toml", reason = "mise runs its tasks and hooks" },
	{ name = "mise.toml", reason = "mise runs its tasks and hooks" },
}
