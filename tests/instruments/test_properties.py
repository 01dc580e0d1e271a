"""Property tests: whatever garbage lies between frames, parsers find every real frame and never make up
a wrong one; a spoilt register block is always refused."""

from __future__ import annotations

from datetime import datetime

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from instrument_drivers.protocols import astm
from instrument_drivers.protocols import gold as gold_proto
from instrument_drivers.protocols import pesticide as pest
from instrument_drivers.protocols import spectro as regmap

f32s = st.floats(min_value=-2.0, max_value=120.0, allow_nan=False, width=32)
JUDGEMENTS = ["negative", "positive", "invalid"]
sample_ids = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", max_size=16)


@st.composite
def records(draw: st.DrawFn) -> pest.Record:
    channels = draw(st.lists(st.integers(1, 16), min_size=1, max_size=16, unique=True))
    return pest.Record(
        run=draw(st.integers(1, 2**32 - 1)),
        time=draw(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2255, 12, 31))).replace(
            microsecond=0
        ),
        item_code=draw(st.sampled_from(["OPC", "OP", "CB"])),
        channels=tuple(
            pest.ChannelResult(
                ch,
                draw(st.integers(0, 2**32 - 1)),
                draw(f32s),
                draw(f32s),
                draw(f32s),
                draw(st.sampled_from(pest.JUDGEMENTS)),
                draw(sample_ids),
            )
            for ch in sorted(channels)
        ),
    )


frames_of_records = st.lists(records(), min_size=1, max_size=5).map(
    lambda rs: [pest.encode_frame(pest.RSP_RECORD, r.encode()) for r in rs]
)
garbage = st.binary(max_size=64) | st.lists(st.sampled_from([0x7E, 0xAA, 0x00, 0x82, 0xFF, 0x01]), max_size=40).map(
    bytes
)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def _valid_frames_inside(chunk: bytes) -> set[bytes]:
    found = set()
    for i in range(len(chunk)):
        for f in pest.parse_frames(chunk[i:]):
            found.add(pest.encode_frame(f.cmd, f.data))
    return found


@settings(max_examples=300, deadline=None)
@given(frames_of_records, st.lists(garbage, min_size=6, max_size=6), st.lists(st.integers(0, 10_000), max_size=8))
def test_pesticide_garbage_between_frames_never_yields_a_wrong_record(
    frames: list[bytes], junk: list[bytes], cuts: list[int]
) -> None:
    # a garbage chunk that itself holds a complete valid frame is indistinguishable from a real frame
    assume(not any(_valid_frames_inside(j) for j in junk))
    stream = junk[0] + b"".join(f + junk[i + 1] for i, f in enumerate(frames))
    parser = pest.FrameParser()
    out = []
    for piece in _split(stream, cuts):
        parser.feed(piece)
        out.extend(parser.frames())
    while parser.pending():  # what an answer timeout does to a candidate that never completes
        parser.resync()
        out.extend(parser.frames())
    decoded = [pest.Record.decode(f.data) for f in out if f.cmd == pest.RSP_RECORD]
    expected = [pest.Record.decode(f[4:-2]) for f in frames]
    assert decoded == expected


@settings(max_examples=300, deadline=None)
@given(records(), st.integers(0, 10_000), st.integers(1, 255))
def test_pesticide_any_single_byte_error_is_caught(record: pest.Record, where: int, flip: int) -> None:
    # CRC-8 catches every error burst of up to 8 bits; LEN, 7E and AA errors break the framing
    frame = bytearray(pest.encode_frame(pest.RSP_RECORD, record.encode()))
    frame[where % len(frame)] ^= flip
    assert not [f for f in pest.parse_frames(bytes(frame)) if f.cmd == pest.RSP_RECORD]


@st.composite
def card_tests(draw: st.DrawFn) -> gold_proto.CardTest:
    lines = draw(st.integers(1, 3))
    when = datetime(2026, 5, 6, 9, 30, 0)
    return gold_proto.CardTest(
        serial=draw(st.sampled_from(["GCR-000001", "GCR-4711"])),
        test_no=draw(st.integers(1, 10**6)),
        sample_id=draw(sample_ids),
        operator="T01",
        time=when,
        results=tuple(
            gold_proto.LineResult(
                n,
                draw(st.sampled_from(["CLB", "RAC", "MG", "AFB1"])),
                "LOT-1",
                round(draw(st.floats(0, 1.5)), 3),
                round(draw(st.floats(0, 1.5)), 3),
                round(draw(st.floats(0, 3)), 3),
                0.9,
                draw(st.sampled_from(["negative", "positive", "invalid"])),
                when,
                when,
            )
            for n in range(1, lines + 1)
        ),
    )


noise = st.binary(max_size=40)


@settings(max_examples=300, deadline=None)
@given(card_tests(), st.lists(noise, min_size=10, max_size=10), st.lists(st.integers(0, 10_000), max_size=8))
def test_astm_garbage_between_frames_never_yields_a_wrong_frame(
    test: gold_proto.CardTest, junk: list[bytes], cuts: list[int]
) -> None:
    frames = astm.record_frames(gold_proto.message_records(test))
    junk = (junk * 2)[: len(frames) + 1]
    stream = junk[0] + b"".join(f + junk[i + 1] for i, f in enumerate(frames))
    reader = astm.LinkReader()
    tokens = []
    for piece in _split(stream, cuts):
        tokens.extend(reader.feed(piece))
    good = [t.raw for t in tokens if t.kind == "frame"]
    # every real frame is found, and anything else that passed the checks was entirely inside the noise
    assert [g for g in good if g in frames] == frames
    for g in good:
        assert g in frames or any(g in j for j in junk)


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 2**32 - 1),
    st.integers(0, regmap.HEAD_COUNT - 1),
    st.integers(1, 0xFFFF),
)
def test_any_spoilt_register_of_the_fifo_head_is_refused(sequence: int, where: int, xor: int) -> None:
    result = regmap.Result(
        sequence,
        "NO2",
        2,
        regmap.f32(0.24),
        regmap.f32(0.015),
        1.0,
        2.5,
        regmap.f32(19.1),
        538,
        "negative",
        "XQ260506002J",
        datetime(2026, 5, 6, 10, 2, 3),
    )
    regs = result.registers()
    regs[where] ^= xor
    try:
        decoded = regmap.decode_head(regs)
    except regmap.RegisterError:
        return
    raise AssertionError(f"spoilt block accepted: {decoded}")
