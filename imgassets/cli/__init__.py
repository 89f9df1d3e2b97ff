"""The `imgassets` command."""
