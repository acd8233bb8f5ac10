from dify_plugin import DifyPluginEnv, Plugin
from dify_plugin.config.config import InstallMethod

from models.server.daemon import guard_stdio

# How long a call may stay silent before the SDK's serverless runtime drops it (its default is
# 300 s). It must exceed the longest silence one call can have: connection attempts (at most 10 s
# each, 4 at most) and then the `request_timeout` credential, which the form bounds to 600 s.
MAX_REQUEST_TIMEOUT = 660

config = DifyPluginEnv(MAX_REQUEST_TIMEOUT=MAX_REQUEST_TIMEOUT)
plugin = Plugin(config)

if __name__ == "__main__":
    if config.INSTALL_METHOD == InstallMethod.Local:
        guard_stdio()  # the daemon's line limit, and the end of stdin (models/server/daemon.py)
    plugin.run()
