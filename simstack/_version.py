"""The package's version, in a module of its own: parts that record it import it from here, not
through the package's lazily loaded API."""
__version__ = "0.1.0"
