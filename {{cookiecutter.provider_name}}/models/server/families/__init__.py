"""Server families: what tells one kind of model server from another, one small file each.

Every server is first an OpenAI-style server (openai.py): its models are listed at
`GET /v1/models`, and a model's type is told by one small real request. A family adds what its
servers say beyond that, in the words of models/server/vocabulary.py (`ModelInfo`). A family
file does no I/O: it names the paths to ask and reads the answers; models/server/probes.py and
tokens.py do the asking, in the order set here. No SDK import in this folder (the check script
reads Xinference's model types through it).

To add a family (vLLM, Ollama, LM Studio, ...), write its file with the functions of each role
it plays, and name it below:

- describing a model (`ABSENT`, `description_path(uid)`, `read(body) -> ModelInfo | None`):
  in DESCRIBE_MODEL if the description names the model's type, else in DESCRIBE_FEATURES;
- counting tokens (`count_request`, `read_count`, `template_request`, `read_prompt`): in TOKENIZERS.
"""

from models.server.families import llama_cpp, openai, xinference

GENERIC = openai  # what every server is asked: its model list, and small real requests of each type
# Asked first, in this order, while credentials are checked: the first description decides the type.
DESCRIBE_MODEL = (xinference,)
# Asked in this order once the type is settled, by the types that learn what a model can do.
DESCRIBE_FEATURES = (llama_cpp,)
# Asked in this order to count tokens; the first endpoint a server has counts (remembered per model).
TOKENIZERS = (llama_cpp,)
