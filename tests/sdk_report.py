"""Load a baked plugin with the dify_plugin SDK, as its runtime would, and print a JSON report.

Run with the plugin directory as the working directory. Runs in its own process so each
baked plugin's `models.*` modules are imported fresh.
"""

import json
import os
import sys

sys.path.insert(0, os.getcwd())  # the runtime starts `python -m main` from the plugin root

from dify_plugin import DifyPluginEnv  # noqa: E402
from dify_plugin.core.plugin_registration import PluginRegistration  # noqa: E402
from dify_plugin.core.utils.class_loader import load_multi_subclasses_from_source  # noqa: E402
from dify_plugin.interfaces.model.ai_model import AIModel  # noqa: E402

registration = PluginRegistration(DifyPluginEnv())
# PluginRegistration validates manifest.yaml with PluginConfiguration and each provider YAML
# with ModelProviderConfiguration, then loads every class with the SDK's class loader.
report = {"manifest": registration.configuration.model_dump(mode="json"), "providers": {}}
for name, (configuration, provider, factory) in registration.models_mapping.items():
    models = {}
    for model_type in configuration.supported_model_types:
        instance = factory.get_instance(model_type)  # instantiates the class
        models[model_type.value] = {
            "class": type(instance).__name__,
            "module": type(instance).__module__,
            "error_mapping": sorted(e.__name__ for e in instance._invoke_error_mapping),
        }
    classes_per_source = {}
    for source in configuration.extra.python.model_sources:
        found = load_multi_subclasses_from_source(
            module_name=source[:-3].replace("/", "."),
            script_path=os.path.join(os.getcwd(), source),
            parent_type=AIModel,
        )
        # Base classes imported into the module are subclasses of AIModel too: keep the module's own.
        classes_per_source[source] = sorted(c.__name__ for c in found if c.__module__ == source[:-3].replace("/", "."))
    report["providers"][name] = {
        "classes_per_source": classes_per_source,
        "provider_class": type(provider).__name__,
        "configurate_methods": [m.value for m in configuration.configurate_methods],
        "predefined_models": [m.model for m in configuration.models],
        "position": configuration.position.model_dump() if configuration.position else None,
        "model_sources": configuration.extra.python.model_sources,
        "provider_source": configuration.extra.python.provider_source,
        "models": models,
    }
json.dump(report, sys.stdout)
