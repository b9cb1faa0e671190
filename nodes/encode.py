"""FLOAT's encoders as nodes: the portrait's identity (motion auto-encoder: s_r, feature pyramid,
reference motion r_s), the speech features wa (wav2vec2 + projection, one per video frame), and the
emotion condition we (speech-emotion classifier, or a chosen label)."""

from __future__ import annotations

from comfy_api.latest import io

from ..float_models.nets.emotion_encoder import FROM_SPEECH_NODE as FROM_SPEECH, is_from_speech
from . import convert, sockets


def identity_of(pipe, image):
    """IMAGE (one or more portraits) -> float_models.Identity."""
    return pipe.ready("float").encode_image(convert.image_to_portraits(image))


def audio_features_of(pipe, audio):
    """AUDIO (any rate, mono or multi-channel, batch) -> float_models.AudioFeatures."""
    waveform, rate = convert.audio_to_mono(audio)
    return pipe.ready("audio", "float").encode_audio(waveform, rate)


def emotion_of_speech(pipe, audio):
    from ..float_models import Emotion

    waveform, rate = convert.audio_to_mono(audio)
    return Emotion(pipe.ready("emotion").encode_emotion(waveform, rate).cpu())


def emotion_of_label(label: str, intensity: float = 1.0):
    from ..float_models import Emotion, emotion_label

    return Emotion(emotion_label(label, intensity))


def emotion_labels() -> list[str]:
    from ..float_models import EMOTIONS

    return list(EMOTIONS)


class EncodeImage(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FloatKitEncodeImage", display_name="FLOAT Encode Portrait", category=sockets.CATEGORY,
            description="Encodes portraits (a face filling the square frame, e.g. from FLOAT Crop Portrait) into "
                        "FLOAT's identity: the appearance latent, its feature pyramid and the portrait's own "
                        "motion. A batch of several portraits gives one identity per portrait.",
            inputs=[sockets.Pipe.Input("pipe", tooltip="From Load FLOAT Models."),
                    io.Image.Input("image", tooltip="Portrait(s); resized to the model's input size (512).")],
            outputs=[sockets.Identity.Output("identity", display_name="identity", tooltip="The encoded portrait(s).")],
        )

    @classmethod
    def execute(cls, pipe, image) -> io.NodeOutput:
        return io.NodeOutput(identity_of(pipe, image))


class EncodeAudio(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FloatKitEncodeAudio", display_name="FLOAT Encode Speech", category=sockets.CATEGORY,
            description="Turns speech into FLOAT's audio features, one per video frame at 25 fps (wav2vec2 over "
                        "the whole clip, as in the official code). Any sample rate; channels are averaged.",
            inputs=[sockets.Pipe.Input("pipe", tooltip="From Load FLOAT Models."),
                    io.Audio.Input("audio", tooltip="The driving speech (a batch gives one clip per item).")],
            outputs=[sockets.AudioFeatures.Output("audio_features", display_name="audio_features", tooltip="Speech features per video frame."),
                     io.Int.Output("frames", display_name="frames", tooltip="Number of video frames the speech will drive.")],
        )

    @classmethod
    def execute(cls, pipe, audio) -> io.NodeOutput:
        features = audio_features_of(pipe, audio)
        return io.NodeOutput(features, features.num_frames)


class EmotionFromSpeech(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FloatKitEmotionFromSpeech", display_name="FLOAT Emotion from Speech",
            category=sockets.CATEGORY,
            description="Recognises the emotion in the speech (the speech-emotion classifier, needs the emotion "
                        "encoder loaded), as the official code does when no emotion is chosen.",
            inputs=[sockets.Pipe.Input("pipe", tooltip="From Load FLOAT Models, with an emotion encoder."),
                    io.Audio.Input("audio", tooltip="The speech whose emotion drives the face.")],
            outputs=[sockets.Emotion.Output("emotion", display_name="emotion", tooltip="Probabilities over the 7 emotions, per clip.")],
        )

    @classmethod
    def execute(cls, pipe, audio) -> io.NodeOutput:
        return io.NodeOutput(emotion_of_speech(pipe, audio))


class EmotionFromLabel(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="FloatKitEmotionFromLabel", display_name="FLOAT Emotion from Label",
            category=sockets.CATEGORY,
            description="Chooses the emotion instead of recognising it (emotion redirection): a one-hot label "
                        "scaled by the intensity. Needs no emotion encoder.",
            inputs=[io.Combo.Input("label", options=emotion_labels(), default="happy",
                                   tooltip="The emotion the face should show."),
                    io.Float.Input("intensity", default=1.0, min=0.0, max=2.0, step=0.05,
                                   tooltip="Scale of the one-hot label; 1 = as trained, lower is subtler, "
                                           "above 1 exaggerates (raise e_cfg_scale for a stronger effect).")],
            outputs=[sockets.Emotion.Output("emotion", display_name="emotion", tooltip="The chosen emotion condition.")],
        )

    @classmethod
    def execute(cls, label: str, intensity: float) -> io.NodeOutput:
        return io.NodeOutput(emotion_of_label(label, intensity))


NODES: list[type[io.ComfyNode]] = [EncodeImage, EncodeAudio, EmotionFromSpeech, EmotionFromLabel]
