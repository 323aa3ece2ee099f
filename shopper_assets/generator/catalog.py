"""Product catalog, ad campaigns and discount codes: small pools built once per seed.

Categories differ in price level and popularity, and products inside a category follow a Zipf-like
popularity, so revenue by category and top-product reports look like a real shop, not uniform noise.
Each product has a few companions (a phone and its case) in its own or a related category, which
carts bring along (funnel.py), so bought-together pairs stand out from chance. Campaigns have a cost
model (CPC or CPM) and a daily budget. Faker only names brands (a few hundred calls), never per event.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from faker import Generator
from faker.providers.person.en_US import Provider as PersonProvider

#: name, number of products, median price (USD), price spread (lognormal sigma), traffic share
CATEGORIES: tuple[tuple[str, int, float, float, float], ...] = (
    ("electronics", 320, 180.0, 0.9, 0.13),
    ("computers", 140, 650.0, 0.6, 0.05),
    ("home_kitchen", 300, 38.0, 0.8, 0.12),
    ("fashion", 420, 34.0, 0.6, 0.16),
    ("shoes", 160, 72.0, 0.5, 0.07),
    ("beauty", 220, 19.0, 0.6, 0.09),
    ("books", 380, 14.0, 0.4, 0.09),
    ("toys", 200, 26.0, 0.7, 0.07),
    ("sports_outdoors", 200, 48.0, 0.8, 0.07),
    ("grocery", 260, 7.5, 0.5, 0.06),
    ("garden", 120, 39.0, 0.8, 0.04),
    ("pet_supplies", 150, 23.0, 0.7, 0.05),
)

BRAND_SUFFIXES = ("Labs", "Co", "Works", "Goods", "Supply", "Brands", "Studio", "House", "& Sons", "Collective")

#: code, percent off the line; weights say how often each code is used
DISCOUNT_CODES: tuple[tuple[str, int, float], ...] = (
    ("WELCOME10", 10, 0.35),
    ("SAVE15", 15, 0.30),
    ("FLASH12", 12, 0.20),
    ("VIP20", 20, 0.15),
)
DISCOUNT_ORDER_SHARE = 0.18

ZIPF_EXPONENT = 1.1
N_CAMPAIGNS = 8

#: Categories whose products go with a category's products (besides its own), for companions
RELATED_CATEGORIES: dict[str, tuple[str, ...]] = {
    "electronics": ("computers",),
    "computers": ("electronics",),
    "home_kitchen": ("grocery", "garden"),
    "fashion": ("shoes", "beauty"),
    "shoes": ("fashion", "sports_outdoors"),
    "beauty": ("fashion",),
    "books": ("toys",),
    "toys": ("books",),
    "sports_outdoors": ("shoes",),
    "grocery": ("home_kitchen", "pet_supplies"),
    "garden": ("home_kitchen",),
    "pet_supplies": ("grocery",),
}
#: how often a cart brings each of a product's companions (first = its main accessory)
COMPANION_WEIGHTS = (0.6, 0.3, 0.1)
SAME_CATEGORY_COMPANION = 0.5  # share of companions in the product's own category
COMPANION_CANDIDATES = 3  # a companion is the cheapest of this many popular products of its category

#: Campaign cost model, per campaign: CPM_SHARE of the campaigns buy on-site sponsored listings per
#: thousand impressions, the others pay per click, for their listings' clicks and for the clicks on
#: their ads elsewhere that bring sessions to the shop (arrivals: every billed click is an ad_click
#: event, funnel.py). Spend = clicks x CPC + impressions x CPM / 1000, capped by the daily budget (the
#: platform bills at most the budget). Advertisers bid what a click is worth to them: a click sells
#: in the promoted category (arrivals often browse it), so the price grows with the category's price
#: level, though slower than the revenue a click brings, which also holds orders of other categories
#: in the next days; hence last-touch ROAS of about 5-15x (the priciest category at the top) and CPCs
#: of $1.3-3 (bench/bench_generate.py --realism prints them).
CPM_SHARE = 0.25
CPC_BASE_CENTS = 150
CPC_CENTS_PER_SQRT_DOLLAR = 4.7  # + 4.7 cents x sqrt(median price in dollars)
CPC_SPREAD = 0.1  # lognormal sigma of a campaign's price around that
#: 1000 listings cost 1.25x what their clicks (AD_CTR) would cost at the CPC: a listing clicked late in
#: a visit wins last touch more often than the arrival before it, so its click is worth more
CPM_CENTS_PER_CPC_CENT = 75
#: Sponsored listings: the share of impressions clicked (funnel.py draws them), and about how many
#: impressions a day has per event of events_per_day (a 200k-events day has about 13.5k); and about
#: how many sessions a day arrive from (CPC) campaigns per event (sessions.py: referrer shares and retargeting).
AD_CTR = 0.06
IMPRESSIONS_PER_EVENT = 0.07
ARRIVALS_PER_EVENT = 0.029
#: Daily budgets: a campaign's expected spend at events_per_day (listings and arrivals) times a headroom
#: spread over BUDGET_HEADROOM, so some campaigns hit their cap on a typical day (more often on busy
#: weekend days) and others never do.
BUDGET_HEADROOM = (0.75, 1.75)


def _clean(name: str) -> str:
    """Brand names go into JSON unescaped: keep them plain ASCII without quotes or backslashes."""
    return "".join(c for c in name if c.isascii() and c not in '"\\').strip()


@dataclass(frozen=True)
class Catalog:
    """Products grouped by category; every per-product array is indexed by product number."""

    category_names: tuple[str, ...]
    category_share: np.ndarray  # traffic share per category, sums to 1
    product_ids: tuple[str, ...]
    product_category: np.ndarray  # int16 category per product
    product_brand: tuple[str | None, ...]
    price_cents: np.ndarray  # int64, > 0
    cat_cum: np.ndarray  # popularity CDF laid out as [c, c + 1) per category c, products in category order
    companions: np.ndarray  # int32 (n_products, len(COMPANION_WEIGHTS)): products that go with each product

    @property
    def n_products(self) -> int:
        return len(self.product_ids)

    def sample_in_category(self, category: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One product per entry of ``category``, Zipf-popular within the category (vectorised)."""
        u = category.astype(np.float64) + rng.random(category.shape[0])
        idx = np.searchsorted(self.cat_cum, u, side="right")
        return np.minimum(idx, self.n_products - 1).astype(np.int32)

    def sample_category(self, n: int, rng: np.random.Generator) -> np.ndarray:
        cdf = np.cumsum(self.category_share)
        return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1).astype(np.int16)

    def sample_companions(self, product: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """One companion per entry of ``product``, the main one most often (vectorised)."""
        cdf = np.cumsum(COMPANION_WEIGHTS)
        slot = np.minimum(np.searchsorted(cdf, rng.random(product.shape[0]) * cdf[-1], side="right"), len(cdf) - 1)
        return self.companions[product, slot]


@dataclass(frozen=True)
class Campaigns:
    """A handful of ad campaigns, each promoting one category with a few ads (sponsored listings)."""

    campaign_ids: tuple[str, ...]
    campaign_category: np.ndarray  # int16 per campaign
    ad_ids: tuple[str, ...]
    ad_campaign: np.ndarray  # int16 per ad
    ad_weight: np.ndarray  # sampling weight per ad (bigger campaigns buy more impressions)
    cpc_cents: np.ndarray  # int64 per campaign: price of a click (0 for CPM campaigns)
    cpm_cents: np.ndarray  # int64 per campaign: price of 1000 impressions (0 for CPC campaigns)
    budget_cents: np.ndarray  # int64 per campaign: daily budget, whole dollars

    def sample_ads(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Ads of sponsored listings shown on the site: every campaign buys them."""
        return self._sample(self.ad_weight, n, rng)

    def sample_arrival_ads(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """Ads whose click brings a session to the site: those of CPC campaigns (a CPM campaign pays for
        on-site impressions only; the off-site impressions behind an arrival are no events to bill)."""
        return self._sample(self.ad_weight * (self.cpc_cents[self.ad_campaign] > 0), n, rng)

    @staticmethod
    def _sample(weight: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        cdf = np.cumsum(weight)
        return np.minimum(np.searchsorted(cdf, rng.random(n) * cdf[-1], side="right"), len(cdf) - 1).astype(np.int16)


def _price_cents(rng: np.random.Generator, n: int, median: float, sigma: float) -> np.ndarray:
    """Lognormal prices with shop-like endings (.99 mostly, some .49 and .00)."""
    dollars = np.maximum(np.floor(median * np.exp(sigma * rng.standard_normal(n))), 0).astype(np.int64)
    ending = np.array([99, 49, 0], dtype=np.int64)[np.searchsorted([0.7, 0.85], rng.random(n), side="right")]
    cents = dollars * 100 + ending
    return np.maximum(cents, 99)


def build_catalog(seed: int) -> Catalog:
    """Deterministic catalog for a seed: brands per category, prices, Zipf popularity."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xCA7A]))
    fake = Generator()  # just the person provider: a full Faker() takes longer to set up than the catalog
    fake.add_provider(PersonProvider)
    fake.seed_instance(seed)
    names = tuple(c[0] for c in CATEGORIES)
    share = np.array([c[4] for c in CATEGORIES], dtype=np.float64)
    share /= share.sum()
    ids: list[str] = []
    cats: list[np.ndarray] = []
    brands: list[str | None] = []
    prices: list[np.ndarray] = []
    cum_parts: list[np.ndarray] = []
    for ci, (_, n, median, sigma, _) in enumerate(CATEGORIES):
        n_brands = int(rng.integers(6, 15))
        pool = []
        while len(pool) < n_brands:
            name = _clean(f"{fake.last_name()} {BRAND_SUFFIXES[int(rng.integers(len(BRAND_SUFFIXES)))]}")
            if name and name not in pool:
                pool.append(name)
        brand_w = 1.0 / np.arange(1, n_brands + 1) ** 0.9
        brand_idx = np.searchsorted(np.cumsum(brand_w / brand_w.sum()), rng.random(n), side="right")
        brand_idx = np.minimum(brand_idx, n_brands - 1)
        unknown = rng.random(n) < 0.03  # the contract allows an unknown brand
        brands.extend(None if unk else pool[b] for b, unk in zip(brand_idx.tolist(), unknown.tolist(), strict=True))
        first = len(ids)  # fixed before extending: ids are unique across categories
        ids.extend(f"p-{first + i:06d}" for i in range(n))
        cats.append(np.full(n, ci, dtype=np.int16))
        prices.append(_price_cents(rng, n, median, sigma))
        weight = 1.0 / rng.permutation(np.arange(1, n + 1)) ** ZIPF_EXPONENT
        cum_parts.append(ci + np.cumsum(weight) / weight.sum())
    cat_cum = np.concatenate(cum_parts)
    # the last product of each category must close its interval exactly at c + 1
    ends = np.cumsum([c[1] for c in CATEGORIES]) - 1
    cat_cum[ends] = np.arange(1, len(CATEGORIES) + 1, dtype=np.float64)
    catalog = Catalog(
        category_names=names,
        category_share=share,
        product_ids=tuple(ids),
        product_category=np.concatenate(cats),
        product_brand=tuple(brands),
        price_cents=np.concatenate(prices),
        cat_cum=cat_cum,
        companions=np.zeros((0, len(COMPANION_WEIGHTS)), dtype=np.int32),
    )
    companions = _companions(catalog, np.random.default_rng(np.random.SeedSequence([seed, 0xC0C0])))
    return dataclasses.replace(catalog, companions=companions)


def _companions(catalog: Catalog, rng: np.random.Generator) -> np.ndarray:
    """Companions of every product, in its own or a related category: the cheapest of a few popular
    candidates (accessories go with the main product: a case with a phone), never the product itself."""
    n, k = catalog.n_products, len(COMPANION_WEIGHTS)
    names = catalog.category_names
    related = [[names.index(r) for r in RELATED_CATEGORIES[c]] for c in names]
    width = max(len(r) for r in related)
    table = np.array([r + r[:1] * (width - len(r)) for r in related], dtype=np.int16)  # padded by repeats
    own = np.repeat(catalog.product_category, k)
    other = table[own, rng.integers(0, width, own.shape[0])]
    category = np.repeat(np.where(rng.random(own.shape[0]) < SAME_CATEGORY_COMPANION, own, other), COMPANION_CANDIDATES)
    product = np.repeat(np.arange(n), k * COMPANION_CANDIDATES)
    candidate = catalog.sample_in_category(category, rng)
    price = np.where(candidate == product, np.iinfo(np.int64).max, catalog.price_cents[candidate])
    cheapest = np.argmin(price.reshape(-1, COMPANION_CANDIDATES), axis=1)
    out = candidate.reshape(-1, COMPANION_CANDIDATES)[np.arange(n * k), cheapest]
    out[out == np.arange(n).repeat(k)] = -1  # every candidate was the product itself
    return out.reshape(n, k).astype(np.int32)


def build_campaigns(seed: int, catalog: Catalog, events_per_day: int = 100_000) -> Campaigns:
    """N_CAMPAIGNS campaigns on popular categories, 2-4 ads each, with skewed sizes and the cost model
    above; budgets scale with ``events_per_day``."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0xAD5]))
    n_cat = len(catalog.category_names)
    camp_cat = rng.choice(n_cat, size=N_CAMPAIGNS, p=catalog.category_share).astype(np.int16)
    size = 1.0 / np.arange(1, N_CAMPAIGNS + 1) ** 0.8  # share of the listings each campaign buys
    ad_ids: list[str] = []
    ad_campaign: list[int] = []
    ad_weight: list[float] = []
    for c in range(N_CAMPAIGNS):
        n_ads = int(rng.integers(2, 5))
        for a in range(n_ads):
            ad_ids.append(f"ad-{c + 1:02d}-{a + 1}")
            ad_campaign.append(c)
            ad_weight.append(size[c] / n_ads)
    costs = np.random.default_rng(np.random.SeedSequence([seed, 0xC057]))
    median_price = np.array([CATEGORIES[c][2] for c in camp_cat])
    price = (CPC_BASE_CENTS + CPC_CENTS_PER_SQRT_DOLLAR * np.sqrt(median_price)) * np.exp(
        CPC_SPREAD * costs.standard_normal(N_CAMPAIGNS)
    )
    cpm = np.zeros(N_CAMPAIGNS, dtype=bool)  # a fixed number, so there are always CPC campaigns to arrive from
    cpm[costs.permutation(N_CAMPAIGNS)[: round(N_CAMPAIGNS * CPM_SHARE)]] = True
    cpc_cents = np.where(cpm, 0, np.round(price)).astype(np.int64)
    cpm_cents = np.where(cpm, np.round(price * CPM_CENTS_PER_CPC_CENT), 0).astype(np.int64)
    impressions = IMPRESSIONS_PER_EVENT * events_per_day * size / size.sum()
    arrivals = ARRIVALS_PER_EVENT * events_per_day * np.where(cpm, 0, size) / size[~cpm].sum()
    expected_cents = impressions * (cpm_cents / 1000 + AD_CTR * cpc_cents) + arrivals * cpc_cents
    headroom = costs.permutation(np.linspace(*BUDGET_HEADROOM, N_CAMPAIGNS))
    budget_cents = np.maximum(np.round(expected_cents * headroom / 100), 1).astype(np.int64) * 100
    return Campaigns(
        campaign_ids=tuple(f"cmp-{c + 1:02d}" for c in range(N_CAMPAIGNS)),
        campaign_category=camp_cat,
        ad_ids=tuple(ad_ids),
        ad_campaign=np.array(ad_campaign, dtype=np.int16),
        ad_weight=np.array(ad_weight, dtype=np.float64),
        cpc_cents=cpc_cents,
        cpm_cents=cpm_cents,
        budget_cents=budget_cents,
    )
