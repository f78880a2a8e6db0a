"""``stylecam serve``: the live stylizer in a browser tab (the page's camera, the server's network)."""
