"""Judgement of a colloidal-gold card measured from a photo: the reader's rules and kit-lot cut-offs
(`lims.judgement.gold`), applied to the line intensities measured on the photo.

The card-photo family measures the gold family's items (`FamilySpec.items`), so a card read from a photo and
the same card read on the reader are judged by one rule: no C line → invalid; T/C below the lot's cut-off for
the sample's matrix → suspected positive; else negative. This is the visual reading of the competitive
colloidal-gold card in the SAMR quick-test methods (e.g. KJ 201706 for clenbuterol, ractopamine and
salbutamol: the card is read by the colour of the T line against the C line, 消线法/比色法), with the photo
measured instead of the eye (KJ number as in the items' reference data, not verified here against the
published text).
"""

from __future__ import annotations

from lims.judgement.gold import USES_KIT_LOT, VALUE_PARAM, Raw, example_raw, judge_raw

__all__ = ["USES_KIT_LOT", "VALUE_PARAM", "Raw", "example_raw", "judge_raw"]
