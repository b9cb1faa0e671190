"""Checks of the ComfyUI stand-ins in tests/comfy_stubs, driven by a toy V3 node pack defined here.

The toy pack mirrors the FLOAT pack's shape: a loader that reads models/toy through folder_paths and wraps
its model in a ModelPatcher, a generator that loads the model before use and reports progress, a
pass-through node, and an output node with a UI preview.
"""
from __future__ import annotations

import asyncio
import os
import struct
import sys
from fractions import Fraction

import pytest
import torch

import comfy_stubs


@pytest.fixture(autouse=True)
def base(tmp_path):
    """Fresh stand-ins and folders for every test (what a pack's conftest.py would do)."""
    comfy_stubs.install(tmp_path)
    return tmp_path


def make_pack():
    """Define the toy pack after install(), exactly as a real pack module would import ComfyUI."""
    import comfy.model_management as mm
    import comfy.model_patcher
    import comfy.utils
    import folder_paths
    from comfy_api.latest import ComfyExtension, io, ui

    folder_paths.add_model_folder_path("toy", os.path.join(folder_paths.models_dir, "toy"))
    folder_paths.folder_names_and_paths["toy"] = (folder_paths.get_folder_paths("toy"), {".safetensors", ".pt"})
    ToyModel = io.Custom("TOYKIT_MODEL")

    class Loader(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="TOYKIT_Loader", display_name="Toy Loader", category="toykit",
                             description="Loads a toy model.",
                             inputs=[io.Combo.Input("model_name", options=folder_paths.get_filename_list("toy"),
                                                    tooltip="file in models/toy"),
                                     io.Int.Input("seed", default=0, min=0, max=2**32 - 1,
                                                  control_after_generate=True)],
                             outputs=[ToyModel.Output("model", tooltip="the loaded model")])

        @classmethod
        def execute(cls, model_name, seed):
            sd = comfy.utils.load_torch_file(folder_paths.get_full_path_or_raise("toy", model_name), safe_load=True)
            net = torch.nn.Linear(2, 2, bias=False)
            net.load_state_dict(sd)
            return io.NodeOutput(comfy.model_patcher.ModelPatcher(net, mm.get_torch_device(), mm.unet_offload_device()))

    class Generate(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="TOYKIT_Generate", category="toykit", hidden=[io.Hidden.unique_id],
                             inputs=[ToyModel.Input("model"), io.Int.Input("count", default=3, min=1, max=64),
                                     io.Float.Input("strength", default=1.0, min=0.0, max=2.0, step=0.1),
                                     io.Image.Input("reference", optional=True)],
                             outputs=[io.Image.Output("frames"), io.Float.Output("fps")])

        @classmethod
        def execute(cls, model, count, strength, reference=None):
            mm.load_models_gpu([model])
            bar = comfy.utils.ProgressBar(count)
            out = []
            for _ in range(count):
                mm.throw_exception_if_processing_interrupted()
                out.append(model.model(torch.ones(4, 4, 2)).sum(-1, keepdim=True).expand(4, 4, 3) * strength)
                bar.update(1)
            images = torch.stack(out).to(mm.intermediate_device())
            return io.NodeOutput(images if reference is None else images + reference, 25.0)

    class Invert(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="TOYKIT_Invert", category="toykit",
                             inputs=[io.Image.Input("images")], outputs=[io.Image.Output()])

        @classmethod
        def execute(cls, images):
            return io.NodeOutput(1.0 - images)

    class Preview(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="TOYKIT_Preview", category="toykit", is_output_node=True,
                             hidden=[io.Hidden.unique_id],
                             inputs=[io.Image.Input("images"), io.String.Input("label", default="toy", optional=True)],
                             outputs=[])

        @classmethod
        async def execute(cls, images, label="none"):  # async execute is allowed in V3
            return io.NodeOutput(ui=ui.PreviewText(f"{label}:{tuple(images.shape)}:{cls.hidden.unique_id}"))

    class ToyExtension(ComfyExtension):
        async def get_node_list(self):
            return [Loader, Generate, Invert, Preview]

    # Literal mapping, keys == node_id: how the pack registers (ComfyUI reads this before comfy_entrypoint).
    mappings = {"TOYKIT_Loader": Loader, "TOYKIT_Generate": Generate, "TOYKIT_Invert": Invert,
                "TOYKIT_Preview": Preview}
    return mappings, ToyExtension()


def write_toy_model(name="toy.safetensors"):
    import comfy.utils
    import folder_paths
    os.makedirs(os.path.join(folder_paths.models_dir, "toy"), exist_ok=True)
    comfy.utils.save_torch_file({"weight": torch.eye(2)}, os.path.join(folder_paths.models_dir, "toy", name))


PROMPT = {
    "1": {"class_type": "TOYKIT_Loader", "inputs": {"model_name": "toy.safetensors", "seed": 7}},
    "2": {"class_type": "TOYKIT_Generate", "inputs": {"model": ["1", 0], "count": 3, "strength": 0.5}},
    "3": {"class_type": "TOYKIT_Preview", "inputs": {"images": ["2", 0], "label": "run"}},
}


def test_install_publishes_comfyui_module_names():
    import comfy.model_management
    import folder_paths
    from comfy_api.latest import IO, io, ui
    assert sys.modules["folder_paths"] is folder_paths and IO is io and ui.PreviewText
    assert comfy.model_management.get_torch_device() == torch.device("cpu")
    with pytest.raises(ModuleNotFoundError):  # io/ui are attributes in ComfyUI, not submodules
        import comfy_api.latest.io  # noqa: F401


def test_registration_and_v1_view_of_the_schema():
    write_toy_model()
    mappings, extension = make_pack()
    assert [c.GET_SCHEMA().node_id for c in asyncio.run(extension.get_node_list())] == list(mappings)
    assert all(key == cls.GET_SCHEMA().node_id for key, cls in mappings.items())
    loader, generate, preview = mappings["TOYKIT_Loader"], mappings["TOYKIT_Generate"], mappings["TOYKIT_Preview"]
    assert loader.INPUT_TYPES() == {"required": {
        "model_name": ("COMBO", {"tooltip": "file in models/toy", "multiselect": False,
                                 "options": ["toy.safetensors"]}),
        "seed": ("INT", {"default": 0, "min": 0, "max": 2**32 - 1, "control_after_generate": True})}}
    assert (loader.RETURN_TYPES, loader.RETURN_NAMES, loader.OUTPUT_TOOLTIPS) == (
        ["TOYKIT_MODEL"], ["model"], ["the loaded model"])
    assert (loader.FUNCTION, loader.CATEGORY, loader.DESCRIPTION, loader.OUTPUT_NODE) == (
        "EXECUTE_NORMALIZED", "toykit", "Loads a toy model.", False)
    assert generate.INPUT_TYPES()["optional"] == {"reference": ("IMAGE", {})}
    assert generate.INPUT_TYPES()["hidden"] == {"unique_id": ("UNIQUE_ID",)}
    assert preview.FUNCTION == "EXECUTE_NORMALIZED_ASYNC" and preview.OUTPUT_NODE is True
    assert preview.INPUT_TYPES()["hidden"] == {  # is_output_node adds prompt + extra_pnginfo
        "unique_id": ("UNIQUE_ID",), "prompt": ("PROMPT",), "extra_pnginfo": ("EXTRA_PNGINFO",)}
    assert {k: list(v) for k, v in generate.INPUT_TYPES().items()} == {  # the order widgets_values follows
        "required": ["model", "count", "strength"], "optional": ["reference"], "hidden": ["unique_id"]}
    assert generate.RETURN_NAMES == ["frames", "fps"]  # named after the output ids (newest ComfyUI)


def test_schema_validation_catches_what_comfyui_catches():
    from comfy_api.latest import io

    def node(inputs, outputs):
        return type("Bad", (io.ComfyNode,), {
            "define_schema": classmethod(lambda cls: io.Schema(node_id="Bad", inputs=inputs, outputs=outputs)),
            "execute": classmethod(lambda cls, **kw: io.NodeOutput())})

    with pytest.raises(ValueError, match="Input ids must be unique"):
        node([io.Int.Input("a"), io.Float.Input("a")], []).GET_SCHEMA()
    with pytest.raises(ValueError, match="between inputs and outputs"):
        node([io.Image.Input("image")], [io.Image.Output("image")]).GET_SCHEMA()
    with pytest.raises(Exception, match="No execute function"):
        type("NoExec", (io.ComfyNode,), {"define_schema": classmethod(lambda cls: io.Schema(node_id="N"))})()
    with pytest.raises(TypeError):  # Schema is a dataclass: unknown fields fail, as on an older ComfyUI
        io.Schema(node_id="X", not_a_field=True)


def test_run_graph_three_nodes(base):
    import comfy.model_management as mm
    write_toy_model()
    mappings, _ = make_pack()
    results = comfy_stubs.run_graph(PROMPT, mappings, extra_data={"extra_pnginfo": {"workflow": {}}})
    images, fps = results["2"].outputs
    assert images.shape == (3, 4, 4, 3) and fps == 25.0 and torch.allclose(images, torch.full_like(images, 1.0))
    assert results["3"].ui == {"text": ["run:(3, 4, 4, 3):3"]}
    assert results["3"].outputs == ()
    patcher = results["1"].outputs[0]
    assert [c["models"] for c in mm._load_calls] == [[patcher]] and mm.loaded_models() == [patcher]
    assert patcher.model.device == torch.device("cpu") and patcher.loaded_size() == patcher.model_size() == 16
    assert [(e["value"], e["max"], e["node"]) for e in comfy_stubs.progress_events] == [(1, 3, "2"), (3, 3, "2")]
    mm.unload_all_models()
    assert mm.loaded_models() == [] and patcher.loaded_size() == 0


def test_run_graph_validates_like_comfyui():
    write_toy_model()
    mappings, _ = make_pack()
    bad = {**PROMPT, "1": {"class_type": "TOYKIT_Loader", "inputs": {"model_name": "missing.pt", "seed": -1}},
           "2": {"class_type": "TOYKIT_Generate", "inputs": {"model": ["1", 0], "count": "x"}},
           "3": {"class_type": "TOYKIT_Preview", "inputs": {"images": ["1", 0]}}}
    with pytest.raises(comfy_stubs.PromptError) as caught:
        comfy_stubs.run_graph(bad, mappings)
    kinds = {nid: sorted(e["type"] for e in entry["errors"]) for nid, entry in caught.value.node_errors.items()}
    assert kinds == {"3": ["return_type_mismatch"]}  # the mismatch stops the walk, as in ComfyUI
    bad["3"] = PROMPT["3"]
    with pytest.raises(comfy_stubs.PromptError) as caught:
        comfy_stubs.run_graph(bad, mappings)
    kinds = {nid: sorted(e["type"] for e in entry["errors"]) for nid, entry in caught.value.node_errors.items()}
    assert kinds == {"1": ["value_not_in_list", "value_smaller_than_min"],
                     "2": ["invalid_input_type", "required_input_missing"]}
    with pytest.raises(comfy_stubs.PromptError, match="Prompt has no outputs"):
        comfy_stubs.run_graph({"1": PROMPT["1"]}, mappings)
    # fill_defaults supplies what the frontend would have sent for widgets left out of the prompt
    sparse = {**PROMPT, "2": {"class_type": "TOYKIT_Generate", "inputs": {"model": ["1", 0]}}}
    assert comfy_stubs.run_graph(sparse, mappings, fill_defaults=True)["2"].outputs[0].shape[0] == 3


def test_v3_execute_runs_on_a_locked_clone_and_sees_hidden_values():
    from comfy_api.latest import io
    seen = {}

    class Stateful(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="Stateful", is_output_node=True, hidden=[io.Hidden.unique_id],
                             inputs=[io.Int.Input("x", default=1)], outputs=[io.Int.Output()])

        @classmethod
        def execute(cls, x):
            seen.update(uid=cls.hidden.unique_id, prompt=cls.hidden.prompt, fresh=cls.__name__)
            cls.cache = x  # state on the class: ComfyUI refuses this
            return io.NodeOutput(x)

    with pytest.raises(AttributeError, match="locked class"):
        comfy_stubs.run_graph({"9": {"class_type": "Stateful", "inputs": {"x": 2}}}, {"Stateful": Stateful})
    assert seen["uid"] == "9" and seen["prompt"]["9"]["inputs"] == {"x": 2} and seen["fresh"] == "StatefulClone"


def test_ui_to_api_handles_widgets_seed_control_notes_mute_and_bypass():
    write_toy_model()
    mappings, _ = make_pack()
    workflow = {
        "nodes": [
            {"id": 1, "type": "TOYKIT_Loader", "mode": 0, "inputs": [],
             "outputs": [{"name": "model", "type": "TOYKIT_MODEL", "links": [1]}],
             "widgets_values": ["toy.safetensors", 7, "randomize"]},  # seed + its control_after_generate value
            {"id": 2, "type": "TOYKIT_Generate", "mode": 0, "title": "Make frames",
             "inputs": [{"name": "model", "type": "TOYKIT_MODEL", "link": 1},
                        {"name": "reference", "type": "IMAGE", "link": None},
                        {"name": "count", "type": "INT", "widget": {"name": "count"}, "link": 5}],
             "outputs": [{"name": "frames", "type": "IMAGE", "links": [2]}, {"name": "fps", "type": "FLOAT"}],
             "widgets_values": [2, 0.5]},  # "count" is fed by the PrimitiveNode, which keeps them in step
            {"id": 3, "type": "TOYKIT_Invert", "mode": 4, "inputs": [{"name": "images", "type": "IMAGE", "link": 2}],
             "outputs": [{"name": "IMAGE", "type": "IMAGE", "links": [3, 4]}]},
            {"id": 4, "type": "TOYKIT_Preview", "mode": 0, "inputs": [{"name": "images", "type": "IMAGE", "link": 3}],
             "outputs": [], "widgets_values": []},  # "label" missing: the widget default is used
            {"id": 5, "type": "TOYKIT_Preview", "mode": 2, "inputs": [{"name": "images", "type": "IMAGE", "link": 4}],
             "outputs": [], "widgets_values": ["muted"]},
            {"id": 6, "type": "MarkdownNote", "mode": 0, "inputs": [], "outputs": [], "widgets_values": ["# notes"]},
            {"id": 7, "type": "PrimitiveNode", "mode": 0, "inputs": [],
             "outputs": [{"name": "INT", "type": "INT", "links": [5]}], "widgets_values": [2, "fixed"]},
        ],
        "links": [[1, 1, 0, 2, 0, "TOYKIT_MODEL"], [2, 2, 0, 3, 0, "IMAGE"], [3, 3, 0, 4, 0, "IMAGE"],
                  [4, 3, 0, 5, 0, "IMAGE"], [5, 7, 0, 2, 2, "INT"]],
        "version": 0.4,
    }
    api = comfy_stubs.ui_to_api(workflow, mappings)
    assert api == {
        "1": {"inputs": {"model_name": "toy.safetensors", "seed": 7}, "class_type": "TOYKIT_Loader",
              "_meta": {"title": "Toy Loader"}},
        "2": {"inputs": {"model": ["1", 0], "count": 2, "strength": 0.5}, "class_type": "TOYKIT_Generate",
              "_meta": {"title": "Make frames"}},
        "4": {"inputs": {"images": ["2", 0], "label": "toy"}, "class_type": "TOYKIT_Preview",
              "_meta": {"title": "TOYKIT_Preview"}},
    }
    assert comfy_stubs.run_graph(api, mappings)["4"].ui == {"text": ["toy:(2, 4, 4, 3):4"]}


def test_ui_to_api_skips_the_frontends_extra_widgets():
    from comfy_api.latest import io

    class Knobs(io.ComfyNode):
        @classmethod
        def define_schema(cls):
            return io.Schema(node_id="Knobs", is_output_node=True, inputs=[
                io.Int.Input("seed", default=1),  # named seed: the frontend adds a control widget anyway
                io.Combo.Input("style", options=["x", "y"], control_after_generate=True),  # control + filter text
                io.Combo.Input("audio", options=["a.wav"], upload=io.UploadType.audio),  # player + upload button
                io.Int.Input("steps", default=3, control_after_generate=False), io.String.Input("text", default="q")])

        @classmethod
        def execute(cls, **kwargs):
            return io.NodeOutput()

    node = {"id": 1, "type": "Knobs", "inputs": [], "outputs": [],
            "widgets_values": [5, "increment", "y", "randomize", "", "a.wav", None, None, 9, "zz"]}
    api = comfy_stubs.ui_to_api({"nodes": [node], "links": []}, {"Knobs": Knobs})
    assert api["1"]["inputs"] == {"seed": 5, "style": "y", "audio": "a.wav", "steps": 9, "text": "zz"}


def test_progress_bar_hook_and_throttle():
    import comfy.utils
    calls = []
    comfy.utils.set_progress_bar_global_hook(lambda v, t, p, node_id=None: calls.append((v, t, node_id)))
    bar = comfy.utils.ProgressBar(4, node_id="5")
    for _ in range(4):
        bar.update(1)
    assert calls == [(1, 4, "5"), (4, 4, "5")]  # first and last always; the rest within 0.1 s are dropped
    comfy.utils.PROGRESS_THROTTLE_MIN_INTERVAL = comfy.utils.PROGRESS_THROTTLE_MIN_PERCENT = 0
    calls.clear()
    bar = comfy.utils.ProgressBar(3)
    bar.update_absolute(1)
    bar.update(1)
    bar.update_absolute(9, total=5)  # clamped to the new total
    assert calls == [(1, 3, None), (2, 3, None), (5, 5, None)]
    comfy.utils.set_progress_bar_global_hook(None)
    assert comfy.utils.ProgressBar(2).hook is None  # the hook is captured when the bar is created


def test_interrupt_is_a_base_exception_and_cancels_a_run():
    import comfy.model_management as mm
    import comfy.utils
    assert issubclass(mm.InterruptProcessingException, BaseException)
    assert not issubclass(mm.InterruptProcessingException, Exception)
    mm.interrupt_current_processing()
    assert mm.processing_interrupted()
    with pytest.raises(mm.InterruptProcessingException):
        mm.throw_exception_if_processing_interrupted()
    assert not mm.processing_interrupted()  # throwing clears the flag

    write_toy_model()
    mappings, _ = make_pack()
    mm.interrupt_current_processing()  # a stale cancel: cleared when the run starts, as in ComfyUI
    comfy.utils.set_progress_bar_global_hook(lambda *a, **k: mm.interrupt_current_processing())  # "Cancel" clicked
    with pytest.raises(mm.InterruptProcessingException):
        comfy_stubs.run_graph(PROMPT, mappings)


def test_folder_paths_listing_and_paths(base):
    import folder_paths
    root = base / "models" / "float"
    (root / "sub").mkdir(parents=True)
    for name in ("a.safetensors", "sub/b.PT", "README.md"):
        (root / name).write_bytes(b"x")
    (root / ".git").mkdir()
    (root / ".git" / "c.pt").write_bytes(b"x")
    folder_paths.add_model_folder_path("float", str(root))
    assert folder_paths.get_filename_list("float") == ["README.md", "a.safetensors", "sub/b.PT"]  # empty set: all
    folder_paths.folder_names_and_paths["float"] = (folder_paths.get_folder_paths("float"),
                                                    folder_paths.supported_pt_extensions)
    assert folder_paths.get_filename_list("float") == ["a.safetensors", "sub/b.PT"]
    assert folder_paths.get_full_path("float", "sub/b.PT") == str(root / "sub" / "b.PT")
    assert folder_paths.get_full_path("float", "../float/a.safetensors") is None  # no escaping the folder
    assert folder_paths.get_full_path("nope", "a.safetensors") is None
    with pytest.raises(FileNotFoundError, match="Model in folder 'float'"):
        folder_paths.get_full_path_or_raise("float", "missing.pt")
    with pytest.raises(KeyError):
        folder_paths.get_filename_list("nope")
    folder_paths.add_model_folder_path("unet", "/elsewhere", is_default=True)
    assert folder_paths.get_folder_paths("diffusion_models")[0] == "/elsewhere"
    assert folder_paths.get_input_directory() == str(base / "input") and os.path.isdir(base / "input")
    assert folder_paths.get_annotated_filepath("clip.mp4 [output]") == str(base / "output" / "clip.mp4")
    with pytest.raises(ValueError):
        folder_paths.get_annotated_filepath("../../etc/passwd")
    out = folder_paths.get_output_directory()
    folder, name, counter, sub, _ = folder_paths.get_save_image_path("video/FLOAT", out)
    assert (folder, name, counter, sub) == (os.path.join(out, "video"), "FLOAT", 1, "video")
    open(os.path.join(folder, "FLOAT_00007_.mp4"), "w").close()
    assert folder_paths.get_save_image_path("video/FLOAT", out)[2] == 8
    with pytest.raises(Exception, match="outside the output folder"):
        folder_paths.get_save_image_path("../escape", out)


def test_load_torch_file_unwraps_like_comfyui(base):
    import comfy.utils
    sd = {"w": torch.arange(3.0)}
    for name, payload in (("plain.pt", sd), ("lightning.ckpt", {"state_dict": sd, "epoch": 3}),
                          ("nested.pth", {"model": sd})):
        torch.save(payload, base / name)
        assert torch.equal(comfy.utils.load_torch_file(str(base / name))["w"], sd["w"])
    torch.save({"model": torch.ones(1)}, base / "single_tensor.pt")  # one key but not a dict: kept as is
    assert list(comfy.utils.load_torch_file(str(base / "single_tensor.pt"))) == ["model"]
    comfy.utils.save_torch_file(sd, str(base / "m.safetensors"), metadata={"arch": "toy"})
    loaded, meta = comfy.utils.load_torch_file(str(base / "m.safetensors"), return_metadata=True)
    assert torch.equal(loaded["w"], sd["w"]) and meta == {"arch": "toy"}


def test_model_patcher_clone_and_loading():
    import comfy.model_management as mm
    import comfy.model_patcher
    net = torch.nn.Linear(3, 1)
    patcher = comfy.model_patcher.ModelPatcher(net, mm.get_torch_device(), mm.unet_offload_device())
    assert net.device == torch.device("cpu") and patcher.model_size() == 16 and patcher.model_dtype() is None
    clone = patcher.clone()
    assert clone.is_clone(patcher) and clone.model is net and clone.parent is patcher
    mm.load_model_gpu(patcher)
    mm.load_models_gpu([clone])  # a clone of a loaded model replaces it instead of loading twice
    assert mm.loaded_models() == [clone]
    assert not (mm.should_use_fp16() or mm.should_use_bf16(mm.get_torch_device()))


def test_ui_previews_write_files(base):
    from comfy_api.latest import io, ui
    result = ui.PreviewImage(torch.rand(2, 6, 5, 3)).as_dict()
    assert result["animated"] == (False,) and [r["type"] for r in result["images"]] == ["temp", "temp"]
    with open(base / "temp" / result["images"][0]["filename"], "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", head[16:24]) == (5, 6)
    audio = ui.PreviewAudio({"waveform": torch.zeros(1, 2, 800), "sample_rate": 8000}).as_dict()
    assert audio["audio"][0]["filename"].endswith("_00001.flac")
    saved = ui.SavedResult("clip.mp4", "video", io.FolderType.output)
    assert ui.PreviewVideo([saved]).as_dict() == {"images": [{"filename": "clip.mp4", "subfolder": "video",
                                                              "type": "output"}], "animated": (True,)}


def test_video_from_file(base):
    import av
    from comfy_api.latest import Input, InputImpl
    path = str(base / "clip.mp4")
    with av.open(path, mode="w") as container:
        stream = container.add_stream("mpeg4", rate=5)
        stream.width, stream.height, stream.pix_fmt = 16, 8, "yuv420p"
        for i in range(4):
            pixels = torch.full((8, 16, 3), i * 60, dtype=torch.uint8).numpy()
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    video = InputImpl.VideoFromFile(path)
    assert isinstance(video, Input.Video) and video.get_dimensions() == (16, 8)
    parts = video.get_components()
    assert parts.images.shape == (4, 8, 16, 3) and parts.frame_rate == Fraction(5) and parts.audio is None
    assert abs(video.get_duration() - 0.8) < 1e-6
