"""The tests, a package: test modules in different folders may share a name, and import each other
by their full name (tests.<folder>.<module>)."""
