"""A corpus of realistic uploads, generated with ffmpeg filters: the material that used to fail.

Each entry is a few seconds long so the suite stays fast, and 9 s, so the ladder has a full
6 s segment and a 3 s tail (long enough to be measured on its own). Band-limited sources (speech,
a voice memo, an 8 kHz phone line, silence, a quiet sparse piece) are the ones the AAC encoder
cannot spend the upper budgets on; the rich ones (a clipped master, hi-res FLAC, 5.1) fill them.
"""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING, Final

import attrs

from tests.support.audio import require_ffmpeg, tone_wav, truncated

if TYPE_CHECKING:
    from pathlib import Path

SECONDS: Final = 9.0
_D: Final = f"{SECONDS:g}"

#: Speech-like: a 110-160 Hz glottal buzz (harmonics falling off) through three formants that
#: move with the syllables, syllables ~4 a second with pauses, and a little breath noise.
_SPEECH: Final = (
    f"aevalsrc='(sin(2*PI*(120+25*sin(2*PI*0.7*t))*t)+0.6*sin(4*PI*(120+25*sin(2*PI*0.7*t))*t)"
    f"+0.3*sin(6*PI*(120+25*sin(2*PI*0.7*t))*t))*0.3*gt(sin(2*PI*3.7*t),-0.3)':s=22050:d={_D},"
    "equalizer=f=700:t=q:w=2:g=12,equalizer=f=1200:t=q:w=3:g=9,equalizer=f=2600:t=q:w=4:g=6,"
    "volume='0.6+0.4*sin(2*PI*0.5*t)':eval=frame[voice];"
    f"anoisesrc=c=pink:a=0.02:r=22050:d={_D}:seed=5[breath];"
    "[voice][breath]amix=inputs=2:normalize=0"
)
#: Sparse piano: a decaying note every 1.5 s (fundamental and two partials), silence between.
_SPARSE_PIANO: Final = (
    "aevalsrc='0.03*(sin(2*PI*261.6*t)+0.5*sin(2*PI*523.2*t)+0.25*sin(2*PI*784.8*t))"
    f"*exp(-4*mod(t,1.5))*lt(mod(t,1.5),0.9)':s=44100:d={_D}"
)
#: A telephone line: speech-band tones and noise, sampled at 8 kHz.
_PHONE: Final = (
    "aevalsrc='0.4*sin(2*PI*(200+50*sin(2*PI*0.5*t))*t)*gt(sin(2*PI*3*t),-0.2)"
    f"+0.05*(random(0)-0.5)':s=8000:d={_D},highpass=f=300,lowpass=f=3400"
)
#: Six different channels (front pair, centre, LFE, surrounds) so none folds into another.
_SURROUND: Final = (
    "aevalsrc='0.3*sin(2*PI*220*t)|0.3*sin(2*PI*277*t)|0.3*sin(2*PI*330*t)|0.5*sin(2*PI*55*t)"
    f"|0.2*(random(0)-0.5)|0.2*(random(1)-0.5)':s=48000:c=5.1:d={_D}"
)


@attrs.frozen
class Upload:
    name: str
    filename: str
    #: ffmpeg arguments after ``-y``: either a lavfi graph (-f lavfi -i GRAPH ...) or, when
    #: ``from_music`` is set, output options applied to generated music.
    args: tuple[str, ...]
    from_music: bool = False
    #: An export interrupted after this many seconds: the music is made half as long again,
    #: encoded, and its file cut at the byte that share of it ends (odd, so mid-frame).
    cut_after_s: float | None = None


CORPUS: Final = (
    Upload(
        "speech, 22 kHz mono MP3",
        "speech.mp3",
        ("-f", "lavfi", "-i", _SPEECH, "-ar", "22050", "-ac", "1", "-c:a", "libmp3lame", "-b:a", "64k"),
    ),
    Upload("8 kHz mono source", "phone.wav", ("-f", "lavfi", "-i", _PHONE, "-ac", "1", "-c:a", "pcm_s16le")),
    Upload(
        "loud clipped master", "clipped.wav", ("-af", "volume=12dB", "-c:a", "pcm_s16le"), from_music=True
    ),
    Upload(
        "digital silence",
        "silence.wav",
        ("-f", "lavfi", "-i", f"anullsrc=r=44100:cl=stereo:d={_D}", "-t", _D, "-c:a", "pcm_s16le"),
    ),
    Upload(
        "quiet sparse piano", "piano.flac", ("-f", "lavfi", "-i", _SPARSE_PIANO, "-ac", "2", "-c:a", "flac")
    ),
    Upload(
        "96 kHz 24-bit FLAC",
        "hires.flac",
        ("-ar", "96000", "-sample_fmt", "s32", "-bits_per_raw_sample", "24", "-c:a", "flac"),
        from_music=True,
    ),
    Upload("5.1 WAV", "surround.wav", ("-f", "lavfi", "-i", _SURROUND, "-c:a", "pcm_s16le")),
    Upload("Opus", "music.opus", ("-c:a", "libopus", "-b:a", "160k", "-f", "ogg"), from_music=True),
    Upload("ALAC", "music.m4a", ("-c:a", "alac"), from_music=True),
    Upload(
        "320k MP3 cut short (an interrupted export)",
        "cut.mp3",
        ("-c:a", "libmp3lame", "-b:a", "320k"),
        from_music=True,
        cut_after_s=SECONDS,
    ),
    Upload("WAV cut short", "cut.wav", ("-c:a", "pcm_s16le"), from_music=True, cut_after_s=SECONDS),
)

#: How much longer than the part kept a cut upload's whole export was.
_WHOLE_SHARE: Final = 1.5


def generate(upload: Upload, folder: Path) -> Path:
    """Write ``upload`` into ``folder`` and return its path."""
    path = folder / upload.filename
    source: tuple[str, ...] = ()
    whole_s = SECONDS if upload.cut_after_s is None else upload.cut_after_s * _WHOLE_SHARE
    if upload.from_music:
        source = ("-i", str(tone_wav(folder / f"music-for-{upload.filename}.wav", whole_s)))
    subprocess.run(
        [require_ffmpeg(), "-hide_banner", "-nostdin", "-v", "error", "-y", *source, *upload.args, str(path)],
        check=True,
        timeout=120,
    )
    if upload.cut_after_s is not None:
        truncated(path, path, keep=upload.cut_after_s / whole_s)
    return path
