"""Run litlab's ``conforms``/``missing`` (their source in common/contracts.py) against
common/protocols.py on whatever Python runs this file, with torch stubbed (the protocols use
it only in annotations), so tests/test_contracts.py can check 3.10-3.13 without installing
torch for each. Prints one line of results."""

import ast
import importlib.util
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
torch = types.ModuleType("torch")
torch.Tensor = torch.Generator = object
nn = types.ModuleType("torch.nn")
nn.Module = object
torch.nn = nn
sys.modules.update({"torch": torch, "torch.nn": nn})
spec = importlib.util.spec_from_file_location("protocols", REPO / "common" / "protocols.py")
P = importlib.util.module_from_spec(spec)
spec.loader.exec_module(P)
src = (REPO / "common" / "contracts.py").read_text()
tree = ast.parse(src)
wanted = ("_members", "missing", "conforms")
keep = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in wanted]
ns = {"inspect": __import__("inspect"), "Protocol": __import__("typing").Protocol}
exec(compile(ast.Module(body=keep, type_ignores=[]), "contracts", "exec"), ns)


class Data:
    classes = ["a", "b"]
    reads = 0

    @property
    def pad_id(self):
        Data.reads += 1
        raise RuntimeError("reads the data")

    def probe_batch(self, n, split="val"): ...
    def token_strings(self, ids): ...
    def encode_texts(self, texts): ...


ok = ns["conforms"](Data(), P.TextData) and Data.reads == 0
try:
    plain = isinstance(Data(), P.TextData)
except RuntimeError:
    plain = "raised"
lacks = ns["missing"](object(), P.TokenProbe)
print(sys.version.split()[0], "conforms:", ok, "missing:", lacks, "isinstance:", plain, Data.reads)
