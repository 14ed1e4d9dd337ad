"""The simulated provincial portal: an iGate-style ASGI app with release profiles.

    from testbed.portal.app import create_app        # -> Starlette
    from testbed.portal.server import serve, running # uvicorn, foreground / background thread
"""
