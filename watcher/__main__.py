"""``python -m watcher`` entry point."""

from watcher.entry import main

if __name__ == "__main__":
    main()
