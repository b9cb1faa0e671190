"""FLOAT's encoders as nodes: the portrait's identity (motion auto-encoder: s_r, feature pyramid,
reference motion r_s), the speech features wa (wav2vec2 + projection, one per video frame), and the
emotion condition we (speech-emotion classifier, or a chosen label)."""

from __future__ import annotations

from comfy_api.latest import io

from ..float_models import AudioFeatures, Emotion, Identity
from ..float_models.types import FROM_SPEECH_NODE as FROM_SPEECH, is_from_speech
from . import convert, sockets


def identity_of(pipe, image) -> Identity:
    """IMAGE (one or more portraits) -> float_models.Identity."""
    return pipe.ready("float").encode_image(convert.image_to_portraits(image))


def audio_features_of(pipe, audio) -> AudioFeatures:
    """AUDIO (any rate, mono or multi-channel, batch) -> float_models.AudioFeatures."""
    waveform, rate = convert.audio_to_mono(audio)
    return pipe.ready("audio", "float").encode_audio(waveform, rate)


def emotion_of_speech(pipe, audio) -> Emotion:
    waveform, rate = convert.audio_to_mono(audio)
    return pipe.ready("emotion").encode_emotion(waveform, rate)


def emotion_of_label(label: str, intensity: float = 1.0) -> Emotion:
    return Emotion.of_label(label, intensity)


class EncodeImage(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitEncodeImage", "FLOAT Encode Portrait",
            "Encodes portraits (a face filling the square frame, e.g. from FLOAT Crop Portrait) into FLOAT's "
            "identity: the appearance latent, its feature pyramid and the portrait's own motion. A batch of "
            "several portraits gives one identity per portrait.",
            inputs=[sockets.pipe_in(),
                    io.Image.Input("image", tooltip="Portrait(s); resized to the model's input size (512).")],
            outputs=[sockets.output(sockets.Identity, "identity", "The encoded portrait(s).")])

    @classmethod
    def execute(cls, pipe, image) -> io.NodeOutput:
        return io.NodeOutput(identity_of(pipe, image))


class EncodeAudio(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitEncodeAudio", "FLOAT Encode Speech",
            "Turns speech into FLOAT's audio features, one per video frame at 25 fps (wav2vec2 over the whole "
            "clip, as in the official code). Any sample rate; channels are averaged.",
            inputs=[sockets.pipe_in(),
                    io.Audio.Input("audio", tooltip="The driving speech (a batch gives one clip per item).")],
            outputs=[sockets.output(sockets.AudioFeatures, "audio_features", "Speech features per video frame."),
                     sockets.output(io.Int, "frames", "Number of video frames the speech will drive.")])

    @classmethod
    def execute(cls, pipe, audio) -> io.NodeOutput:
        features = audio_features_of(pipe, audio)
        return io.NodeOutput(features, features.num_frames)


class EmotionFromSpeech(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitEmotionFromSpeech", "FLOAT Emotion from Speech",
            "Recognises the emotion in the speech (the speech-emotion classifier, needs the emotion encoder "
            "loaded), as the official code does when no emotion is chosen.",
            inputs=[sockets.pipe_in("From Load FLOAT Models, with an emotion encoder."),
                    io.Audio.Input("audio", tooltip="The speech whose emotion drives the face.")],
            outputs=[sockets.output(sockets.Emotion, "emotion", "Probabilities over the 7 emotions, per clip.")])

    @classmethod
    def execute(cls, pipe, audio) -> io.NodeOutput:
        return io.NodeOutput(emotion_of_speech(pipe, audio))


class EmotionFromLabel(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return sockets.schema(
            "FloatKitEmotionFromLabel", "FLOAT Emotion from Label",
            "Chooses the emotion instead of recognising it (emotion redirection): a one-hot label scaled by the "
            "intensity. Needs no emotion encoder.",
            inputs=[io.Combo.Input("label", options=list(sockets.EMOTION_LABELS), default="happy",
                                   tooltip="The emotion the face should show."),
                    io.Float.Input("intensity", default=1.0, min=0.0, max=2.0, step=0.05,
                                   tooltip="Scale of the one-hot label; 1 = as trained, lower is subtler, "
                                           "above 1 exaggerates (raise e_cfg_scale for a stronger effect).")],
            outputs=[sockets.output(sockets.Emotion, "emotion", "The chosen emotion condition.")])

    @classmethod
    def execute(cls, label: str, intensity: float) -> io.NodeOutput:
        return io.NodeOutput(emotion_of_label(label, intensity))


NODES: list[type[io.ComfyNode]] = [EncodeImage, EncodeAudio, EmotionFromSpeech, EmotionFromLabel]
