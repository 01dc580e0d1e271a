"""Sample labels, barcode image decoding, GS1/GTIN rules, product and trademark registries."""

from barcodes.authenticate import Finding, authenticate
from barcodes.decode import Decoded, decode
from barcodes.gs1 import CodeError, CodeKind, Gtin, Issuer, ParsedCode, normalize_gtin, parse_code, parse_gtin
from barcodes.imageio import ImageError
from barcodes.labels import LabelData, LabelError, render_label
from barcodes.products import ProductRecord, RejectedRow, find_product
from barcodes.trademarks import MarkMatch, Trademark, search_marks

__all__ = [
    "CodeError",
    "CodeKind",
    "Decoded",
    "Finding",
    "Gtin",
    "ImageError",
    "Issuer",
    "LabelData",
    "LabelError",
    "MarkMatch",
    "ParsedCode",
    "ProductRecord",
    "RejectedRow",
    "Trademark",
    "authenticate",
    "decode",
    "find_product",
    "normalize_gtin",
    "parse_code",
    "parse_gtin",
    "render_label",
    "search_marks",
]
