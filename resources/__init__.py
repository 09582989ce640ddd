"""Package data: default config, icons, stylesheets."""
