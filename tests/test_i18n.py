"""The zh_CN and en catalogs cover every user-facing text in the source, and the compiled catalogs are current."""
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"
#: the UI code zh_CN, as Babel names it (and Flask-Babel looks it up)
CHINESE_CATALOG = "zh_Hans_CN"
SOURCE_DIRS = ["app", "marketplace", "stickers", "courses", "licensing"]
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "_l": None, "pgettext": ((1, "c"), 2)}


def source_messages() -> set[str]:
    found = set()
    for directory in SOURCE_DIRS:
        for _, _, message, _, _ in extract_from_dir(ROOT / directory, METHODS, keywords=KEYWORDS, options_map={"**/templates/**.html": {"extensions": "jinja2.ext.i18n"}}):
            found.add(message[0] if isinstance(message, tuple) else message)
    return found


def load_po(locale: str):
    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.po", "rb") as fh:
        return read_po(fh, locale=locale)


def _key(message_id):
    return message_id if isinstance(message_id, str) else message_id[0]


def _text(string):
    return string if isinstance(string, str) else tuple(string)


def test_every_source_text_has_a_chinese_translation():
    catalog = load_po(CHINESE_CATALOG)
    missing = sorted(m for m in source_messages() if not (catalog.get(m) and catalog.get(m).string))
    assert missing == [], f"{len(missing)} texts lack a zh_CN translation, e.g. {missing[:10]}"


def test_chinese_translations_are_current_not_fuzzy():
    fuzzy = sorted(m.id for m in load_po(CHINESE_CATALOG) if m.id and m.fuzzy)
    assert fuzzy == []


def test_compiled_catalogs_match_their_sources():
    for locale in (CHINESE_CATALOG, "en"):
        po = load_po(locale)
        with open(TRANSLATIONS / locale / "LC_MESSAGES" / "messages.mo", "rb") as fh:
            mo = read_mo(fh)
        po_strings = {_key(m.id): _text(m.string) for m in po if m.id and m.string and not m.fuzzy}
        mo_strings = {_key(m.id): _text(m.string) for m in mo if m.id}
        assert po_strings == mo_strings, f"{locale}: run `make translations` to recompile messages.mo"


def test_chinese_visitors_get_chinese_pages(client):
    page = client.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert "登录" in page and "Log in" not in page


def test_pages_switch_language(client):
    zh = client.get("/", headers={"Accept-Language": "zh-CN"})
    en = client.get("/", headers={"Accept-Language": "en"})
    assert 'lang="zh-CN"' in zh.get_data(as_text=True)
    assert 'lang="en"' in en.get_data(as_text=True)
    client.post("/language", data={"locale": "en", "next": "/"})
    assert 'lang="en"' in client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)


def test_error_pages_speak_the_visitors_language(client):
    listing = client.get("/listings/no-such-listing", headers={"Accept-Language": "zh-CN"})
    assert listing.status_code == 404 and "商品不存在。" in listing.get_data(as_text=True)
    missing = client.get("/no/such/page", headers={"Accept-Language": "zh-CN"})
    assert missing.status_code == 404 and "页面不存在" in missing.get_data(as_text=True)
    english = client.get("/no/such/page", headers={"Accept-Language": "en"})
    assert "Page not found" in english.get_data(as_text=True)
