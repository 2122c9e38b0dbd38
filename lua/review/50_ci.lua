-- Review rules: CI definitions (run with the repository's CI credentials).
return {
	{ under_dir = { ".github", "workflows" }, reason = "GitHub Actions run it with the repository's CI secrets" },
	{ under_dir = { ".github", "actions" }, reason = "local GitHub Actions used by workflows" },
	{ name = ".gitlab-ci.yml", reason = "GitLab CI runs it with the project's CI secrets" },
	{ under_dir = { ".circleci" }, reason = "CircleCI runs it" },
	{ name = ".travis.yml", reason = "Travis CI runs it" },
	{ name = "Jenkinsfile", reason = "Jenkins runs it" },
	{ name = "azure-pipelines.yml", reason = "Azure Pipelines runs it" },
	{ under_dir = { ".buildkite" }, reason = "Buildkite runs it" },
	{ name = "bitbucket-pipelines.yml", reason = "Bitbucket Pipelines runs it" },
	{ under_dir = { ".woodpecker" }, reason = "Woodpecker CI runs it" },
}
