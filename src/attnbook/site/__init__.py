"""Building the website offline: the build command and the Sphinx extension."""
