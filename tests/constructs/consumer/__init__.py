"""A stack written as another team would write it, with only the library's public names."""
