"""The public status page for citizens: each service's status now and its 90 days of daily
uptime, the incidents and planned maintenance, in Vietnamese (English on the switch), as plain
server-rendered HTML and an Atom feed (`server`), served by `app.py run`.

    model      the page's content from named queries and config/status_page.yaml (no SQL here)
    render     HTML and Atom from the model
    words      the page's words and the Vietnamese way of writing numbers and times
    incidents  incidents opened by alerts (and resolved when nobody took them over), and the
               changes ICT makes from the dashboard (store/status_writes.py)
    server     Starlette + uvicorn in a thread of the owner, the rendered bytes cached per language
"""
