"""Demo data for a first run: accounts for each role and published listings of every kind.

`encore seed-demo` goes through the same services as the pages and the API (register, become a
streamer, create -> submit -> approve -> publish), so the demo data obeys every rule real data does.
Accounts are found again by email and listings by slug: a second run changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.accounts import services as accounts
from app.accounts.models import Role
from app.db import utcnow
from app.errors import ServiceError
from app.extensions import db
from app.images import placeholder_avatar_png, placeholder_cover_png
from app.liverooms import services as liverooms
from app.money import Money
from app.storage import get_storage
from marketplace import kinds
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing

#: every demo account signs in with this password
DEMO_PASSWORD = "encore-demo"
BRAND_NAME = "Lumen Studio Gear"
BRAND_SLUG = "lumen-studio-gear"


@dataclass(frozen=True)
class DemoAccount:
    key: str
    email: str
    role: str
    display_name: str
    handle: str | None = None
    bio: str = ""
    colors: tuple[tuple[int, int, int], tuple[int, int, int]] = ((90, 60, 200), (240, 90, 140))
    #: (platform, url, title)
    rooms: tuple[tuple[str, str, str], ...] = ()


ACCOUNTS = (
    DemoAccount("fan", "fan@demo.encore.example", "fan", "小林 Lin"),
    DemoAccount(
        "mia", "mia@demo.encore.example", "streamer", "米娅 Mia", handle="mia_miao",
        bio="画猫的主播，每晚九点抖音见。I draw cats live, every night at 9 pm on Douyin.",
        colors=((255, 140, 120), (255, 210, 110)),
        rooms=(
            ("douyin", "https://live.douyin.com/612345678", "米娅的画猫直播间 Mia draws cats"),
            ("bilibili", "https://live.bilibili.com/2233445", "周末手绘 Weekend sketching"),
        ),
    ),
    DemoAccount(
        "kai", "kai@demo.encore.example", "streamer", "凯 Kai", handle="kai_studio",
        bio="Streaming setups, lighting and gear. 直播间搭建、灯光与设备。",
        colors=((40, 60, 140), (60, 200, 210)),
        rooms=(
            ("twitch", "https://www.twitch.tv/kai_studio", "Kai builds studios"),
            ("bilibili", "https://live.bilibili.com/8899001", "凯的直播间装修 Studio makeovers"),
            ("youtube", "https://www.youtube.com/@kai_studio/live", "Gear talk Friday"),
        ),
    ),
    DemoAccount("brand", "brand@demo.encore.example", "brand", "Lumen 品牌经理 Brand manager"),
    DemoAccount("operator", "operator@demo.encore.example", "operator", "运营 Operator"),
)


@dataclass(frozen=True)
class DemoListing:
    slug: str
    owner: str  #: a DemoAccount key
    kind: str
    title: str
    #: the Latin part of the title, painted on the cover (the default font has no CJK glyphs)
    cover_text: str
    description: str
    cny: str
    usd: str | None = None
    tags: tuple[str, ...] = ()
    cobranded: bool = False
    featured: bool = False
    extra: dict = field(default_factory=dict)


def _demo_listing(slug, owner, kind, title, cny, usd=None, tags=(), cobranded=False, featured=False, description=None):
    cover_text = "".join(ch for ch in title if ord(ch) < 0x2E80).strip() or slug.replace("-", " ").title()
    return DemoListing(
        slug=slug, owner=owner, kind=kind, title=title, cover_text=cover_text,
        description=description or f"{title}. Demo listing — 演示商品。",
        cny=cny, usd=usd, tags=tuple(tags), cobranded=cobranded, featured=featured,
    )


LISTINGS = (
    # sticker packs
    _demo_listing("cat-emotes-vol-1", "mia", "sticker_pack", "猫猫表情包 Cat Emotes Vol. 1", "12.00", "1.99", ("cats", "emotes", "cute"), featured=True,
       description="8 只手绘猫猫表情，适合弹幕和群聊。8 hand-drawn cat emotes for chats and live rooms."),
    _demo_listing("cat-emotes-vol-2", "mia", "sticker_pack", "猫猫表情包 Cat Emotes Vol. 2", "12.00", None, ("cats", "emotes")),
    _demo_listing("panda-daily-stickers", "mia", "sticker_pack", "熊猫日常 Panda Daily Stickers", "9.90", None, ("panda", "cute")),
    _demo_listing("good-morning-good-night", "mia", "sticker_pack", "早安晚安 Good Morning Good Night", "6.60", None, ("greetings",)),
    _demo_listing("cheer-squad-emotes", "mia", "sticker_pack", "加油打气 Cheer Squad Emotes", "8.80", "1.49", ("emotes", "hype")),
    _demo_listing("chat-bubble-stickers", "kai", "sticker_pack", "弹幕气泡贴纸 Chat Bubble Stickers", "15.00", "2.49", ("chat", "overlay")),
    _demo_listing("pixel-monsters", "kai", "sticker_pack", "像素小怪兽 Pixel Monsters", "18.00", None, ("pixel", "gaming")),
    _demo_listing("cyber-neon-emotes", "kai", "sticker_pack", "赛博霓虹 Cyber Neon Emotes", "20.00", "2.99", ("neon", "emotes", "gaming"), featured=True),
    # merch
    _demo_listing("cat-ear-headphones", "mia", "merch", "猫耳耳机 Cat Ear Headphones", "299.00", "45.00", ("audio", "cats"), cobranded=True, featured=True,
       description="Lumen Studio Gear 联名猫耳耳机。Co-branded with Lumen Studio Gear: closed-back, light, and very pink."),
    _demo_listing("signed-tote-bag", "mia", "merch", "签名帆布袋 Signed Tote Bag", "59.00", None, ("bag", "signed")),
    _demo_listing("paw-mouse-pad", "mia", "merch", "猫爪鼠标垫 Paw Mouse Pad", "39.00", None, ("desk", "cats")),
    _demo_listing("acrylic-standee", "mia", "merch", "限定亚克力立牌 Acrylic Standee", "45.00", "6.50", ("limited",)),
    _demo_listing("sticker-merch-bundle", "mia", "merch", "贴纸周边套装 Sticker Merch Bundle", "79.00", None, ("bundle", "stickers")),
    _demo_listing("lumen-kai-ring-light", "kai", "merch", "补光灯联名款 Lumen x Kai Ring Light", "399.00", "59.00", ("lighting", "gear"), cobranded=True),
    _demo_listing("stream-team-hoodie", "kai", "merch", "主播同款卫衣 Stream Team Hoodie", "199.00", None, ("apparel",)),
    _demo_listing("lumen-mic-arm", "kai", "merch", "桌面麦克风臂 Lumen Mic Arm", "259.00", "38.00", ("audio", "gear"), cobranded=True),
    # courses
    _demo_listing("streaming-101", "kai", "course", "直播入门 30 天 Streaming 101 in 30 Days", "199.00", "29.00", ("beginner", "streaming"), featured=True,
       description="从开播到稳定涨粉的 30 节课。Thirty short lessons from your first stream to a steady audience."),
    _demo_listing("obs-scene-building", "kai", "course", "OBS 场景搭建 OBS Scene Building", "99.00", None, ("obs", "software")),
    _demo_listing("lighting-your-stream-room", "kai", "course", "灯光布置课 Lighting Your Stream Room", "149.00", "21.00", ("lighting",)),
    _demo_listing("audio-for-streamers", "kai", "course", "声音设计入门 Audio for Streamers", "119.00", None, ("audio",)),
    _demo_listing("drawing-emotes-from-scratch", "mia", "course", "手绘表情包教程 Drawing Emotes from Scratch", "129.00", "18.00", ("drawing", "emotes")),
    _demo_listing("selling-on-live", "mia", "course", "直播带货话术 Selling on Live", "159.00", None, ("selling", "live")),
    _demo_listing("growing-a-fan-community", "mia", "course", "粉丝社群运营 Growing a Fan Community", "89.00", None, ("community",)),
    # studio setups
    _demo_listing("warm-bedroom-studio", "mia", "studio_setup", "暖光卧室直播间 Warm Bedroom Studio", "1999.00", "289.00", ("cozy", "warm"), featured=True,
       description="暖色灯光、毛绒与绿植的卧室直播间。A warm bedroom room: soft key light, plush and plants."),
    _demo_listing("tea-house-set", "mia", "studio_setup", "国风茶室 Tea House Set", "2999.00", None, ("guofeng", "tea")),
    _demo_listing("cat-cafe-corner", "mia", "studio_setup", "猫咖直播角 Cat Café Corner", "1299.00", None, ("cats", "cozy")),
    _demo_listing("cyberpunk-gaming-room", "kai", "studio_setup", "赛博朋克游戏间 Cyberpunk Gaming Room", "3999.00", "569.00", ("neon", "gaming")),
    _demo_listing("minimal-white-studio", "kai", "studio_setup", "极简白色工作室 Minimal White Studio", "2599.00", None, ("minimal",)),
    _demo_listing("camping-live-setup", "kai", "studio_setup", "户外露营直播 Camping Live Setup", "1599.00", None, ("outdoor",)),
    _demo_listing("lumen-flagship-studio", "kai", "studio_setup", "旗舰演播室 Lumen Flagship Studio", "4999.00", "719.00", ("lighting", "pro"), cobranded=True),
)

KIND_LABELS = {"sticker_pack": "STICKER PACK", "merch": "MERCH", "course": "COURSE", "studio_setup": "STUDIO SETUP"}
KIND_COLORS = {
    "sticker_pack": ((255, 120, 160), (255, 200, 90)),
    "merch": ((70, 90, 220), (150, 80, 200)),
    "course": ((30, 150, 120), (150, 210, 90)),
    "studio_setup": ((30, 30, 60), (200, 90, 60)),
}


# ---------------------------------------------------------------- seeding

def _ensure_account(spec: DemoAccount, storage) -> tuple[object, bool]:
    """The demo user for this spec, created through the account services if missing."""
    user = accounts.find_user_by_email(spec.email)
    created = user is None
    if created:
        user = accounts.create_account(
            spec.email, DEMO_PASSWORD, spec.role if spec.role != Role.STREAMER else Role.FAN,
            brand_name=BRAND_NAME if spec.role == Role.BRAND else None, display_name=spec.display_name,
        )
    if spec.role == Role.STREAMER and user.creator_profile is None:
        profile = accounts.become_streamer(user, spec.handle, spec.display_name, spec.bio)
        accounts.set_avatar(profile, placeholder_avatar_png(spec.handle[0], spec.colors), storage)
        for platform, url, title in spec.rooms:
            liverooms.add_room(user, platform, url, title)
    if spec.role == Role.BRAND:
        brand = accounts.find_brand(BRAND_SLUG)
        if brand is not None and not brand.verified:
            brand.verified = True
    return user, created


def _ensure_listing(spec: DemoListing, owner, operator, storage) -> bool:
    """Create, cover, submit, approve and publish one demo listing unless its slug exists."""
    if db.session.scalar(select(Listing.id).where(Listing.slug == spec.slug)) is not None:
        return False
    prices = [{"currency": "CNY", "amount": _minor(spec.cny, "CNY")}]
    if spec.usd:
        prices.append({"currency": "USD", "amount": _minor(spec.usd, "USD")})
    data = {
        "kind": spec.kind,
        "title": spec.title,
        "slug": spec.slug,
        "description": spec.description,
        "prices": prices,
        "tags": list(spec.tags),
        **spec.extra,
    }
    if spec.cobranded:
        data["partners"] = [BRAND_SLUG]
    if spec.kind == "merch":
        data["shipping_profile_id"] = _demo_shipping_profile(owner)
    listing = catalog.create_listing(owner, data)
    catalog.set_cover(owner, listing, placeholder_cover_png(spec.slug, KIND_LABELS[spec.kind], spec.cover_text, KIND_COLORS[spec.kind]), storage)
    kind = kinds.get(spec.kind)
    if kind is not None and kind.prepare_demo is not None:
        kind.prepare_demo(listing, owner)
    if spec.cobranded:
        _demo_split(listing, owner)
    catalog.submit_listing(owner, listing)
    catalog.approve_listing(operator, listing)
    catalog.publish_listing(owner, listing)
    if spec.featured:
        catalog.set_featured(operator, listing, True)
    return True


#: every demo streamer's shipping: mainland China and Hong Kong by courier, free from 199 CNY; abroad in USD
DEMO_SHIPPING_RATES = [
    {"countries": ["CN", "HK", "MO", "TW"], "currency": "CNY", "amount": 1000, "free_above": 19900},
    {"countries": ["US", "CA", "GB", "DE", "FR", "JP", "KR", "SG", "AU"], "currency": "USD", "amount": 1500},
]
#: where the demo fan's merch goes
DEMO_ADDRESS = {"name": "林小满 Lin Xiaoman", "line1": "世纪大道 88 号 2 栋 1203 室", "city": "上海 Shanghai",
                "region": "上海市", "postal_code": "200120", "country": "CN", "phone": "+86 138 0000 0000"}


def _demo_shipping_profile(owner) -> int:
    """The streamer's shipping profile ("标准快递 Standard"), made once."""
    from marketplace.merch import shipping
    from marketplace.merch.models import ShippingProfile

    found = db.session.scalar(select(ShippingProfile.id).where(ShippingProfile.creator_id == owner.creator_profile.id))
    if found is not None:
        return found
    return shipping.create_profile(owner, {"name": "标准快递 Standard", "rates": DEMO_SHIPPING_RATES}).id


#: a co-branded listing's split: the streamer 70%, the brand 20%, the platform's fee (10% by default) the rest
DEMO_BRAND_SHARE_BP = 2000


def _demo_split(listing, owner) -> None:
    """The streamer proposes the co-branded split and the brand's manager accepts it, as they would on the site."""
    from marketplace.royalties import splits

    brand = accounts.find_brand(BRAND_SLUG)
    if brand is None or not brand.memberships:
        return
    now = utcnow()
    fee = splits.platform_fee_bp(listing.id)
    split = splits.set_split(owner, listing, [
        {"user_id": owner.id, "role": "creator", "bp": 10_000 - fee - DEMO_BRAND_SHARE_BP},
        {"brand_id": brand.id, "role": "co_brand", "bp": DEMO_BRAND_SHARE_BP},
    ], now)
    manager = brand.memberships[0].user
    for party in split.waiting_for:
        splits.accept_share(manager, party.id, now)


#: an invitation the brand's manager has not answered yet, so the brand's co-branding page has one to show
DEMO_INVITATION_SLUG = "stream-team-hoodie"


def _ensure_demo_invitation(streamer) -> None:
    from marketplace.merch import cobranding
    from marketplace.royalties.models import RoyaltySplit

    listing = db.session.scalar(select(Listing).where(Listing.slug == DEMO_INVITATION_SLUG))
    brand = accounts.find_brand(BRAND_SLUG)
    if listing is None or brand is None:
        return
    if db.session.scalar(select(RoyaltySplit.id).where(RoyaltySplit.listing_id == listing.id).limit(1)) is None:
        cobranding.invite(streamer, listing, brand.id, 1500, "co_brand", utcnow())


def _minor(text: str, currency: str) -> int:
    return Money.parse(text, currency).amount


def seed_demo(echo=click.echo) -> dict:
    """Create whatever demo data is missing; returns counts of what was created. Does not commit."""
    storage = get_storage()
    users: dict[str, object] = {}
    created_accounts = []
    for spec in ACCOUNTS:
        users[spec.key], created = _ensure_account(spec, storage)
        if created:
            created_accounts.append(spec.key)
    created_listings = 0
    with click.progressbar(LISTINGS, label="Publishing demo listings", show_pos=True, file=None) as bar:
        for spec in bar:
            if _ensure_listing(spec, users[spec.owner], users["operator"], storage):
                created_listings += 1
    _ensure_demo_files(storage)
    _ensure_demo_invitation(users["kai"])
    orders = _ensure_demo_purchases(users["fan"])
    return {"accounts": created_accounts, "listings": created_listings, "orders": orders}


#: files attached to demo listings, so the library has a handout to download (stamped with the buyer)
DEMO_HANDOUT_SLUG = "growing-a-fan-community"
DEMO_HANDOUT_NAME = "粉丝社群运营手册 Community handbook.pdf"


def handout_pdf(title: str, pages: list[str]) -> bytes:
    """A small handout PDF; reportlab's built-in STSong-Light font draws Chinese without a font file."""
    import io

    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.setTitle(title)
    width, height = A4
    for number, text in enumerate(pages, start=1):
        pdf.setFont("STSong-Light", 22)
        pdf.drawString(72, height - 96, title)
        pdf.setFont("STSong-Light", 13)
        pdf.drawString(72, height - 140, f"{number}. {text}")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _ensure_demo_files(storage) -> None:
    import io

    from marketplace.downloads import services as downloads

    listing = db.session.scalar(select(Listing).where(Listing.slug == DEMO_HANDOUT_SLUG))
    if listing is None or downloads.attached_files(listing.id):
        return
    owner = listing.creator.user
    data = handout_pdf("粉丝社群运营 Growing a Fan Community", [
        "每天固定时间开播 Go live at the same time every day",
        "记住老粉的名字 Remember your regulars by name",
        "把直播间的梗做成贴纸 Turn your room's jokes into stickers",
    ])
    downloads.add_listing_file(owner, listing, DEMO_HANDOUT_NAME, io.BytesIO(data), storage)


#: the demo fan's paid order, so the order pages, a streamer's sales and the fan's library have something to show
DEMO_ORDER_SLUGS = ("growing-a-fan-community", "cat-emotes-vol-1")


#: earlier sales, one every few days over the past weeks, so the earnings pages have a history to chart:
#: (days ago, slugs bought together)
DEMO_SALES = (
    (75, ("streaming-101",)), (68, ("cat-emotes-vol-2", "drawing-emotes-from-scratch")), (61, ("lumen-flagship-studio",)),
    (54, ("cyber-neon-emotes",)), (47, ("selling-on-live", "panda-daily-stickers")), (40, ("lumen-flagship-studio",)),
    (33, ("obs-scene-building",)), (26, ("warm-bedroom-studio",)), (19, ("lighting-your-stream-room", "pixel-monsters")),
    (12, ("lumen-flagship-studio",)), (5, ("cheer-squad-emotes", "tea-house-set")), (1, ("audio-for-streamers",)),
    # merch: the older parcels were shipped; the newest waits in Mia's fulfilment queue
    (30, ("signed-tote-bag", "paw-mouse-pad")), (9, ("stream-team-hoodie",)), (2, ("cat-ear-headphones",)),
)
#: merch bought at least this many days ago has been shipped by its streamer
DEMO_SHIPPED_AFTER_DAYS = 7


def _buy(fan, slugs, when) -> int:
    """One paid and delivered order of these listings at `when`, through the real checkout and payment rules."""
    from datetime import timedelta

    from marketplace.cart import services as cart_services
    from marketplace.orders import services as orders

    from marketplace.merch.models import Variant

    cart = cart_services.user_cart(fan)
    for slug in slugs:
        listing = db.session.scalar(select(Listing).where(Listing.slug == slug))
        if listing is not None and listing.is_public:
            variant_id = db.session.scalar(select(Variant.id).where(Variant.listing_id == listing.id,
                                                                    Variant.is_active.is_(True)).order_by(Variant.id).limit(1))
            cart_services.add_line(cart, listing.id, variant_id=variant_id)
    if not cart.lines:
        return 0
    order = orders.place_order(fan, "CNY", None, when, "local", timedelta(hours=1), fan.locale,
                               shipping_address=DEMO_ADDRESS)
    order.payment_reference = f"pi_local_{order.number}"
    orders.mark_paid(order, order.payment_reference, order.total, order.currency, when)
    db.session.flush()
    orders.fulfil_order(order.id, when)
    if utcnow() - when >= timedelta(days=DEMO_SHIPPED_AFTER_DAYS):
        _ship_demo_parcels(order, when + timedelta(days=1))
    return 1


def _ship_demo_parcels(order, when) -> None:
    """Each seller ships the order's merch lines, as they would from their fulfilment page."""
    from marketplace.merch import fulfilment

    for line in order.lines:
        if line.kind == "merch" and line.shipped_at is None and line.creator is not None:
            fulfilment.mark_shipped(line.creator.user, [line.id], "顺丰速运 SF Express",
                                    f"SF{order.id:04d}{line.id:06d}", when)


def _ensure_demo_purchases(fan) -> int:
    """The demo fan's sales history, oldest first, then today's order (DEMO_ORDER_SLUGS), each bought through the
    real cart, checkout, payment and fulfilment rules, once: orders are listed newest first by id, as real ones are
    placed. A database seeded before the history existed holds only today's order and gets the history alone."""
    from datetime import timedelta

    from sqlalchemy import func

    from marketplace.orders.models import Order

    existing = db.session.scalar(select(func.count(Order.id)).where(Order.buyer_id == fan.id))
    if existing > 1:
        return 0
    now = utcnow()
    oldest_first = sorted(DEMO_SALES, key=lambda sale: sale[0], reverse=True)
    bought = sum(_buy(fan, slugs, now - timedelta(days=days, hours=3)) for days, slugs in oldest_first)
    if existing == 0:
        bought += _buy(fan, DEMO_ORDER_SLUGS, now)
    return bought


def _login_table(created: list[str]) -> str:
    rows = [("email", "password", "role", "handle", "account")]
    for spec in ACCOUNTS:
        rows.append((spec.email, DEMO_PASSWORD, spec.role, f"@{spec.handle}" if spec.handle else "-",
                     "new" if spec.key in created else "existing"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths).rstrip())
    return "\n".join(lines)


@click.command("seed-demo")
@with_appcontext
def seed_demo_command():
    """Load demo accounts and listings; running it again changes nothing."""
    try:
        result = seed_demo()
        db.session.commit()
    except ServiceError as exc:
        db.session.rollback()
        raise click.ClickException(f"demo data refused: {exc.message}") from exc
    except Exception:
        db.session.rollback()
        raise
    click.echo(
        f"Demo data: {len(result['accounts'])} account(s) and {result['listings']} listing(s) created"
        f" ({len(ACCOUNTS)} accounts and {len(LISTINGS)} listings in the demo set)."
    )
    click.echo(_login_table(result["accounts"]))
    if len(result["accounts"]) < len(ACCOUNTS):
        click.echo("Accounts marked 'existing' keep whatever password they have now.")
