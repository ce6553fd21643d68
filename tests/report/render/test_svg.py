"""harness.report.render.svg: compact inline SVG with page-unique ids."""

from __future__ import annotations

import re

from harness.report.render.svg import compact_svg

RAW = """<?xml version="1.0" encoding="utf-8" standalone="no"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg xmlns="http://www.w3.org/2000/svg" width="460.123456pt" viewBox="0 0 460.123456 200.5">
 <metadata><rdf:RDF>created by matplotlib</rdf:RDF></metadata>
 <!-- a comment -->
 <defs><clipPath id="p1a2b"><rect x="41.546875" y="7.2" width="10.04" height="5"/></clipPath></defs>
 <g id="figure_1">
  <path d="M 41.546875 173.923438
L 112.345678 7.61" clip-path="url(#p1a2b)" style="stroke-width: 0.75"/>
  <use xlink:href="#m9" x="112.449999" y="173.9"/>
  <path id="m9" d="M 0 0 L 0 3.5"/>
 </g>
</svg>
"""


def test_prolog_metadata_and_comments_are_gone() -> None:
    svg = compact_svg(RAW, "a")
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    assert "DOCTYPE" not in svg
    assert "metadata" not in svg
    assert "comment" not in svg


def test_geometry_is_rounded_to_a_tenth_but_styles_are_not() -> None:
    svg = compact_svg(RAW, "a")
    assert 'd="M 41.5 173.9 L 112.3 7.6"' in svg
    assert 'x="112.4"' in svg
    assert "stroke-width: 0.75" in svg
    assert 'width="460.1pt"' in svg


def test_referenced_ids_are_prefixed_and_others_dropped() -> None:
    svg = compact_svg(RAW, "ttfi")
    assert 'id="ttfi-p1a2b"' in svg
    assert "url(#ttfi-p1a2b)" in svg
    assert 'id="ttfi-m9"' in svg
    assert 'href="#ttfi-m9"' in svg
    assert "figure_1" not in svg
    defined = set(re.findall(r'id="([^"]+)"', svg))
    referenced = set(re.findall(r'(?:url\(#|href="#)([^")]+)', svg))
    assert defined == referenced


def test_two_prefixes_never_share_an_id() -> None:
    first = set(re.findall(r'id="([^"]+)"', compact_svg(RAW, "a")))
    second = set(re.findall(r'id="([^"]+)"', compact_svg(RAW, "b")))
    assert first
    assert not first & second
