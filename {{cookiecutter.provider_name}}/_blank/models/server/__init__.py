"""How this plugin talks to your model server: yours to write, here, shared by every model type.

errors.py holds Dify's error mapping; daemon.py what the Dify daemon accepts from the plugin
(its line limit, its heartbeat rule: main.py calls it). As the client grows, give each job its own module, as the
working variant of the template does (implementation=openai-compatible): connection.py (the
credentials read once per call into one connection object), transport.py (requests within time
and size limits), events.py (stream framing), errors.py (the server's failures as Dify's errors).
"""
