from dify_plugin import DifyPluginEnv, Plugin

# How long a call may stay silent before the SDK's serverless runtime drops it. It must exceed the
# longest silence one call can have: connection attempts (at most 10 s each) and then the
# `request_timeout` credential, which the form bounds to 240 s. 300 s is the SDK's own default.
MAX_REQUEST_TIMEOUT = 300

plugin = Plugin(DifyPluginEnv(MAX_REQUEST_TIMEOUT=MAX_REQUEST_TIMEOUT))

if __name__ == "__main__":
    plugin.run()
