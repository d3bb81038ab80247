"""The `miniyarn` command line: the `yarn` command's verbs and output formats over the RM's REST API."""
