"""The amphora agent: runs inside an amphora; shares only wire.py with the controller."""
