"""``litlab serve``: the registry's models behind a JSON API and a web app, in one process."""
