"""The notebook runtimes resource of the Enterprise Administrator API."""
