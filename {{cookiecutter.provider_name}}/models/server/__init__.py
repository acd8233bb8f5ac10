{% set plan = cookiecutter | plan %}
"""How this plugin talks to the model server: one package, one job per module.

A call goes down this way: a model class (models/<type>/<type>.py) reads the credentials once
into a `Connection` (connection.py), builds its request and sends it through transport.py
(pooled clients from pools.py, bodies read within limits by bodies.py{{ ", streams framed by events.py" if plan.has("llm") else "" }});
every failure comes back as one of Dify's errors from errors.py. While credentials
are saved, probes.py checks the server and the model, asking each server family (families/)
what its servers say. tokens.py counts tokens. limits.py holds every bound; vocabulary.py the
words the check script (scripts/check_server.py) shares with the plugin.

Everything raised from here is already one of Dify's errors, and no message built here ever
contains the API key: the key is refused unless a header can carry it, removed from everything
the server sends before anything reads it, and a `server_url` with a password in it is refused.

Adapting to a server that is not OpenAI-style: change these few places, each marked `# ADAPT:`
where it stands (`grep -rn "ADAPT" models`):

- URL building: `Connection.url` in connection.py, from `API_PREFIX` in families/openai.py (an
  API not under /v1);
- the auth header: `new_client` in pools.py (e.g. `X-API-Key` instead of a bearer token);
- request and response shapes: the `# ADAPT:` lines in each model type's folder (models/<type>/);
{% if plan.has("llm") %}
- stream framing: `stream_events` in events.py (newline-delimited JSON instead of SSE);
{% endif %}
- error bodies: `detail` in errors.py (where the server's message sits in an error answer).

DEVELOPMENT.md has the same map as a table, with every module.
"""
