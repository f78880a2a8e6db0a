# Data files installed as the package ``stylecam.assets`` (see pyproject.toml).
