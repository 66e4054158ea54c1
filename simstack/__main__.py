"""``python -m simstack``: the same as the ``simstack`` command."""
from .cli import main

if __name__ == "__main__":
    main(prog_name="simstack")
