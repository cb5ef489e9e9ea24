"""Synthetic but behaviourally realistic CRM data for demos, benchmarks and model tests.

Pure numpy/pandas: no Django import and no wall clock. Everything is derived from ``seed`` and
``as_of``, so ``generate_demo(n, seed, as_of)`` returns identical frames on every call.

Why the data look the way they do
---------------------------------
The analytics engine fits buy-till-you-die and spend models, association rules, churn
classifiers and sentiment summaries. Those models only show anything on a demo if the data were
produced by a process they can recover, so the generator *is* such a process:

* Purchases follow the BG/NBD story of Fader, Hardie & Lee (2005, "Counting your customers the
  easy way", Marketing Science 24(2)): while alive, customer *i* buys as a Poisson process with
  rate ``lambda_i ~ Gamma(r, alpha)``; after every purchase they become inactive for good with
  probability ``p_i ~ Beta(a, b)``. The first purchase happens at sign-up (time 0 of the model).
  Seasonality (November/December peak, busier weekends) is layered on by thinning (Lewis &
  Shedler 1979): candidate events arrive at the peak rate and are kept with probability
  ``season(t) / season_max``. This makes the data slightly *non*-stationary, so a fitted BG/NBD
  model recovers the parameters only roughly -- as on real data.
* Spend per order varies per customer (a gamma-distributed "basket size" factor scales the
  number of lines and quantities), which is the heterogeneity the Gamma-Gamma model of Fader &
  Hardie (2013) describes.
* A small per-customer chance of a bad experience (late delivery, faulty product, overcharge,
  rude service) raises the dropout probability after that purchase, makes a low-rated complaint
  in the feedback more likely and often leads to a complaint interaction. Churn is therefore
  learnable from complaints, and the "explicitly churned" status is given mostly to customers
  who left after a bad experience.
* Baskets are drawn from a per-customer category preference (Dirichlet) plus a fixed
  "partner" product for each product, so association rules and recommendations are genuine.

``DemoData.latent`` exposes the hidden per-customer truth (rates, dropout probabilities, alive or
not at ``as_of``) so model tests can check recovery. The loader does not store it.

Ids are 1-based int64 *local* ids; the loader maps them to database ids.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DemoData", "generate_demo", "CATEGORIES"]

NS_PER_DAY = 86_400 * 10**9

# --- Time span -----------------------------------------------------------------------------
# Sign-ups spread over about three years so that cohorts, recency and a one-year holdout all fit.
HISTORY_DAYS = 3 * 365
# Sign-ups grow over time (a young shop): density proportional to exp(SIGNUP_GROWTH * x), x in 0..1.
SIGNUP_GROWTH = 0.6

# --- BG/NBD purchase process (rates per day) -------------------------------------------------
# Tuned by simulation so that 2,000..100,000 customers average about 10 orders each over the
# window (CDNOW's published r = 0.24 is far more skewed; a demo shop needs more repeat buyers).
PURCHASE_RATE_SHAPE = 0.9          # r: below 1, so many light buyers and a long heavy tail
PURCHASE_RATE_SCALE_DAYS = 18.0    # alpha in days: mean rate r/alpha = 0.05/day before the cap
MAX_PURCHASE_RATE = 0.35           # per day; caps the gamma tail (no one buys 3x a day for years)
DROPOUT_A = 1.1                    # a, b of Beta(a, b): a > 1 keeps p away from exactly 0
DROPOUT_B = 26.0                   # (mean 0.041: about 24 purchases expected before leaving)
NEVER_BOUGHT_SHARE = 0.06          # leads that signed up (newsletter, social) but never ordered

# --- Bad experiences ------------------------------------------------------------------------
BAD_EXPERIENCE_A = 1.2             # per-customer chance of a bad order ~ Beta(1.2, 16): mean 7 %
BAD_EXPERIENCE_B = 16.0
PEAK_SEASON_BAD_FACTOR = 1.6       # couriers are overloaded in Nov/Dec: more late deliveries
BAD_EXPERIENCE_DROPOUT = 0.25      # extra chance of leaving right after a bad experience
# The values of customers.models.ComplaintReason, so engine frames read back from the database match.
COMPLAINT_REASONS = np.array(["delivery", "product quality", "price", "service"], dtype=object)
REASON_WEIGHTS_NORMAL = np.array([0.35, 0.30, 0.15, 0.20])
REASON_WEIGHTS_PEAK = np.array([0.55, 0.22, 0.10, 0.13])

# --- Seasonality (multiplies the purchase rate; means ~1 over a year) -----------------------
MONTH_FACTOR = np.array([0.85, 0.80, 0.92, 0.95, 1.0, 0.95, 0.90, 0.95, 1.0, 1.05, 1.40, 1.65])
WEEKDAY_FACTOR = np.array([0.90, 0.88, 0.90, 0.95, 1.05, 1.30, 1.20])  # Monday .. Sunday

# --- Catalogue and baskets ------------------------------------------------------------------
CATEGORIES = (
    "Coffee", "Tea", "Bakery", "Dairy", "Snacks",
    "Beverages", "Personal care", "Household", "Stationery", "Electronics accessories",
)
PRODUCT_NOUNS = {
    "Coffee": ["Espresso beans", "House blend", "Cold brew", "Decaf roast", "Instant coffee",
               "Single origin Ethiopia", "Coffee capsules", "Drip bags", "Mocha blend", "Dark roast"],
    "Tea": ["Green tea", "Oolong tea", "Jasmine tea", "Pu-erh tea", "Earl Grey",
            "Chamomile tea", "Black tea", "Matcha powder", "Mint tea", "Chai blend"],
    "Bakery": ["Croissant", "Sourdough loaf", "Bagel", "Muffin", "Mooncake",
               "Baguette", "Cinnamon roll", "Egg tart", "Scone", "Steamed bun"],
    "Dairy": ["Whole milk", "Oat milk", "Greek yoghurt", "Butter", "Cheddar",
              "Cream", "Soy milk", "Skimmed milk", "Cream cheese", "Almond milk"],
    "Snacks": ["Dark chocolate", "Salted almonds", "Potato crisps", "Rice crackers", "Shortbread",
               "Dried mango", "Granola bar", "Seaweed snack", "Popcorn", "Cookies"],
    "Beverages": ["Sparkling water", "Orange juice", "Cola", "Lemonade", "Coconut water",
                  "Iced tea", "Kombucha", "Energy drink", "Mineral water", "Apple juice"],
    "Personal care": ["Shampoo", "Hand cream", "Toothpaste", "Face mask", "Body wash",
                      "Sunscreen", "Lip balm", "Conditioner", "Deodorant", "Face wash"],
    "Household": ["Dish soap", "Kitchen towels", "Laundry liquid", "Sponges", "Bin bags",
                  "Glass cleaner", "Candles", "Storage jars", "Tea towels", "Air freshener"],
    "Stationery": ["Notebook", "Gel pens", "Sticky notes", "Planner", "Highlighters",
                   "Greeting card", "Washi tape", "Pencil set", "Envelopes", "Desk calendar"],
    "Electronics accessories": ["USB-C cable", "Phone case", "Power bank", "Earbuds", "Charger",
                                "Screen protector", "Mouse", "Keyboard", "Laptop sleeve", "HDMI cable"],
}
PRODUCT_VARIANTS = ("Classic", "Premium")    # two variants of each noun: 10 x 10 x 2 = 200 products
# Log-normal price per category: (median price, log-sd). Medians loosely follow a city grocer.
CATEGORY_PRICE = {
    "Coffee": (12.0, 0.35), "Tea": (9.0, 0.40), "Bakery": (3.5, 0.35), "Dairy": (2.8, 0.30),
    "Snacks": (3.2, 0.35), "Beverages": (2.2, 0.30), "Personal care": (8.5, 0.45),
    "Household": (6.0, 0.45), "Stationery": (4.5, 0.50), "Electronics accessories": (22.0, 0.60),
}
PREMIUM_PRICE_FACTOR = 1.6
# Each category's natural companion; a product's partner is a product of this category.
CATEGORY_PARTNER = {
    "Coffee": "Dairy", "Tea": "Bakery", "Bakery": "Coffee", "Dairy": "Bakery", "Snacks": "Beverages",
    "Beverages": "Snacks", "Personal care": "Household", "Household": "Personal care",
    "Stationery": "Electronics accessories", "Electronics accessories": "Stationery",
}
PARTNER_PROBABILITY = 0.45         # chance the next line is the previous line's partner product
PRODUCT_POPULARITY_EXPONENT = 0.9  # Zipf exponent of popularity within a category
PREFERENCE_CONCENTRATION = 0.8     # Dirichlet concentration; < 1 gives customers clear favourites
# Lines per order = 1 + Poisson(EXTRA_LINES_MEAN x spend factor); units = 1 + Poisson(...) likewise.
# With these an average basket has ~1.9 lines and ~25 in value, like a city convenience shop.
EXTRA_LINES_MEAN = 0.9
QUANTITY_EXTRA_MEAN = 0.35
MAX_LINES = 8
MAX_QUANTITY = 12
SPEND_FACTOR_SHAPE = 3.0           # basket-size factor ~ Gamma(3, 1/3): mean 1, cv 0.58
PROMO_SHARE = 0.25                 # share of November/December lines sold on promotion
PROMO_DISCOUNT = 0.15

# --- Feedback and interactions --------------------------------------------------------------
FEEDBACK_SHARE_GOOD = 0.12         # with the bad-order share this gives ~15 % of orders
FEEDBACK_SHARE_BAD = 0.55          # unhappy customers write far more often
UNRATED_FEEDBACK_SHARE = 0.06      # e-mails and social posts carry no star rating
COMPLAINT_INTERACTION_SHARE = 0.45 # bad orders followed by a logged complaint
ROUTINE_INTERACTIONS_PER_YEAR = 1.2
REFUND_SHARE_BAD = 0.25
REFUND_SHARE_GOOD = 0.005
CANCEL_SHARE = 0.01
EXPLICIT_CANCEL_AFTER_BAD = 0.35   # dropped-out customers with a complaint often cancel formally
EXPLICIT_CANCEL_OTHERWISE = 0.04

# --- Identity -------------------------------------------------------------------------------
CHINESE_SHARE = 0.45
MISSING_EMAIL_SHARE = 0.08
MISSING_PHONE_SHARE = 0.15
MISSING_BIRTH_DATE_SHARE = 0.20
CONSENT_SHARE = 0.65
FEMALE_SHARE = 0.52                # retail loyalty schemes skew slightly female
GENDER_UNSTATED_SHARE = 0.05
ORDER_HOUR_MEAN, ORDER_HOUR_SD = 14.5, 3.5  # shoppers buy in waking hours, peaking mid-afternoon
USUAL_CHANNEL_SHARE = 0.8          # orders placed through the customer's usual channel
CUSTOMER_CHANNELS = np.array(["erp", "ecommerce", "store", "social", "manual"], dtype=object)
CUSTOMER_CHANNEL_WEIGHTS = np.array([0.15, 0.40, 0.25, 0.15, 0.05])
# Order and feedback channels use customers.models.Channel values.
ORDER_CHANNELS = np.array(["ecommerce", "store", "phone"], dtype=object)

ENGLISH_GIVEN_F = ["Emma", "Olivia", "Amelia", "Sophie", "Grace", "Chloe", "Lucy", "Hannah",
                   "Isla", "Mia", "Ella", "Emily", "Charlotte", "Jessica", "Sarah", "Laura"]
ENGLISH_GIVEN_M = ["Oliver", "Jack", "Harry", "George", "Noah", "James", "William", "Thomas",
                   "Daniel", "Samuel", "Joseph", "Henry", "Michael", "David", "Ethan", "Lucas"]
ENGLISH_FAMILY = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies",
                  "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green",
                  "Hall", "Wood", "Jackson", "Clarke", "Miller", "Moore", "Anderson", "Martin"]
# (characters, pinyin) pairs; pinyin feeds the e-mail address.
CHINESE_FAMILY = [("王", "wang"), ("李", "li"), ("张", "zhang"), ("刘", "liu"), ("陈", "chen"),
                  ("杨", "yang"), ("黄", "huang"), ("赵", "zhao"), ("吴", "wu"), ("周", "zhou"),
                  ("徐", "xu"), ("孙", "sun"), ("马", "ma"), ("朱", "zhu"), ("胡", "hu"), ("林", "lin")]
CHINESE_GIVEN_F = [("芳", "fang"), ("娜", "na"), ("敏", "min"), ("静", "jing"), ("丽", "li"),
                   ("婷", "ting"), ("雪", "xue"), ("慧", "hui"), ("晓燕", "xiaoyan"), ("欣怡", "xinyi"),
                   ("梦琪", "mengqi"), ("雨桐", "yutong")]
CHINESE_GIVEN_M = [("伟", "wei"), ("强", "qiang"), ("磊", "lei"), ("军", "jun"), ("洋", "yang"),
                   ("勇", "yong"), ("杰", "jie"), ("涛", "tao"), ("浩然", "haoran"), ("子轩", "zixuan"),
                   ("宇航", "yuhang"), ("俊杰", "junjie")]
# (country, city, region, dialling code, weight within the culture)
CITIES_ZH = [("CN", "Shanghai", "Shanghai", 0.25), ("CN", "Beijing", "Beijing", 0.22),
             ("CN", "Guangzhou", "Guangdong", 0.15), ("CN", "Shenzhen", "Guangdong", 0.14),
             ("CN", "Hangzhou", "Zhejiang", 0.12), ("CN", "Chengdu", "Sichuan", 0.12)]
CITIES_EN = [("US", "New York", "New York", 0.16), ("US", "San Francisco", "California", 0.10),
             ("US", "Chicago", "Illinois", 0.08), ("US", "Austin", "Texas", 0.07),
             ("US", "Seattle", "Washington", 0.06), ("GB", "London", "England", 0.25),
             ("GB", "Manchester", "England", 0.10), ("GB", "Bristol", "England", 0.06),
             ("GB", "Edinburgh", "Scotland", 0.08), ("GB", "Cardiff", "Wales", 0.04)]
# Ofcom's drama ranges (London 020 7946 0xxx, Manchester, Bristol, Edinburgh, Cardiff): valid to
# libphonenumber, unlike the 07700 900xxx mobile range, which it rejects.
GB_FICTION_PREFIXES = np.array(["+442079460", "+441614960", "+441174960", "+441314960", "+442920180"],
                               dtype=object)
# Reserved documentation domains (RFC 2606): a demo can never e-mail a real person.
EMAIL_DOMAINS = np.array(["example.com", "example.org", "example.net"], dtype=object)

# --- Feedback wording -----------------------------------------------------------------------
NEGATIVE_TEXT = {
    "en": {
        "delivery": ["The parcel arrived days late.", "Delivery was very slow and nobody told me why.",
                     "My order came late and the box was damaged.", "Courier lost my package for a week."],
        "product quality": ["Poor quality, it broke after two days.",
                            "The product was faulty and not as described.",
                    "Cheap material, really bad quality.", "The item was stale when it arrived."],
        "price": ["Far too expensive for what you get.", "I was charged more than the listed price.",
                  "Prices went up again, not worth the money.", "Overpriced compared with other shops."],
        "service": ["Customer service was rude and unhelpful.", "Nobody answered my emails for a week.",
                    "The staff in the store ignored me.", "Support kept transferring my call."],
    },
    "zh": {
        "delivery": ["快递太慢了，晚了好几天才到。", "物流很差，包装也破了。", "发货太慢，等了一个星期。",
                     "快递把包裹弄丢了。"],
        "product quality": ["质量很差，用了两天就坏了。", "东西和描述的不一样，质量不好。", "做工粗糙，质量太差。",
                    "收到的时候已经不新鲜了。"],
        "price": ["价格太贵了，不值这个钱。", "实际扣款比标价高。", "又涨价了，不划算。", "比别家贵很多，性价比太低。"],
        "service": ["客服态度很差，问题没人解决。", "发邮件一个星期都没人回复。", "店员服务态度不好。",
                    "打客服电话一直被转来转去。"],
    },
}
NEGATIVE_OPENERS = {"en": ["Very disappointed. ", "Not happy. ", "Terrible experience. ", ""],
                    "zh": ["非常失望。", "很不满意。", "体验太差了。", ""]}
NEGATIVE_CLOSERS = {"en": [" I will not order again.", " Please fix this.", " I want a refund.", ""],
                    "zh": ["再也不会买了。", "希望尽快处理。", "要求退款。", ""]}
POSITIVE_TEXT = {
    "en": ["Fast delivery and great quality!", "Excellent service, very friendly staff.",
           "Good value for money.", "Love this product, will buy again.",
           "Everything arrived on time and well packed.", "Great taste, my family loves it."],
    "zh": ["发货很快，质量很好！", "客服很热情，服务周到。", "价格实惠，性价比高。", "非常喜欢，还会回购。",
           "包装很好，准时送达。", "味道很好，家人都喜欢。"],
}
POSITIVE_OPENERS = {"en": ["Great shop! ", "Very satisfied. ", "", "Thank you! "],
                    "zh": ["很满意！", "好评！", "", "谢谢！"]}
NEUTRAL_TEXT = {
    "en": ["It was okay.", "Average product, nothing special.", "Delivery was fine, quality could be better.",
           "Does the job."],
    "zh": ["还可以吧。", "一般般，没什么特别的。", "物流还行，质量一般。", "凑合用。"],
}
FEEDBACK_CHANNELS = np.array(["ecommerce", "store", "email", "social"], dtype=object)
FEEDBACK_CHANNEL_WEIGHTS = np.array([0.55, 0.25, 0.12, 0.08])  # e-mail and social are free text

INTERACTION_KINDS = np.array(["call", "email", "chat", "visit"], dtype=object)
INTERACTION_KIND_WEIGHTS = np.array([0.30, 0.35, 0.20, 0.15])
INTERACTION_OUTCOMES = {
    "call": ["reached", "no answer", "follow-up scheduled", "upsell accepted"],
    "email": ["sent", "replied", "bounced", "opened"],
    "chat": ["resolved", "transferred", "resolved", "abandoned"],
    "visit": ["purchase", "browsed", "consultation", "purchase"],
}
INTERACTION_NOTES = {
    "call": ["Courtesy call about new arrivals.", "Called about loyalty programme.",
             "Follow-up on recent order.", "Reminder about expiring voucher."],
    "email": ["Sent seasonal offer.", "Answered question about opening hours.",
              "Sent order confirmation details.", "Shared product recommendations."],
    "chat": ["Helped with checkout.", "Question about product ingredients.",
             "Asked about delivery options.", "Password reset help."],
    "visit": ["Visited flagship store.", "Came in for tasting event.",
              "Picked up click-and-collect order.", "Asked for gift advice."],
}
COMPLAINT_OUTCOMES = np.array(["resolved", "refund issued", "escalated", "unresolved"], dtype=object)
COMPLAINT_OUTCOME_WEIGHTS = np.array([0.45, 0.25, 0.15, 0.15])
COMPLAINT_NOTES = {
    "delivery": "Customer reported a late or damaged delivery.",
    "product quality": "Customer reported a faulty or poor-quality product.",
    "price": "Customer disputed the price charged.",
    "service": "Customer complained about how staff treated them.",
}


@dataclass(frozen=True)
class DemoData:
    """The generated data set: engine-schema frames plus database-only identity columns.

    ``latent`` is the ground truth behind the data (per customer: purchase_rate per day,
    dropout_probability, bad_experience_probability, spend_factor, is_alive at as_of,
    dropout_at); models may be checked against it, the database never sees it.
    """

    customers: pd.DataFrame
    products: pd.DataFrame
    orders: pd.DataFrame
    items: pd.DataFrame
    feedback: pd.DataFrame
    interactions: pd.DataFrame
    latent: pd.DataFrame
    as_of: pd.Timestamp
    seed: int


def _choice(rng: np.random.Generator, options: np.ndarray, size: int, p: np.ndarray | None = None):
    return options[rng.choice(len(options), size=size, p=p)]


def _categorical_rows(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One categorical draw per row of a (n, k) probability matrix, vectorised."""
    cumulative = np.cumsum(probabilities, axis=1)
    u = rng.random(len(probabilities))[:, None] * cumulative[:, -1:]
    return np.minimum((cumulative <= u).sum(axis=1), probabilities.shape[1] - 1)


def _as_naive_utc(as_of: pd.Timestamp) -> pd.Timestamp:
    as_of = pd.Timestamp(as_of)
    if as_of.tzinfo is not None:
        as_of = as_of.tz_convert("UTC").tz_localize(None)
    return as_of.as_unit("ns")


def _to_datetime(origin_ns: int, days: np.ndarray) -> np.ndarray:
    # Whole seconds, rounded down so nothing lands after as_of.
    seconds = np.floor(np.asarray(days, dtype=np.float64) * 86_400.0).astype(np.int64)
    return (origin_ns + seconds * 10**9).astype("datetime64[ns]")


def _season_table(origin: pd.Timestamp, n_days: int) -> np.ndarray:
    days = pd.date_range(origin, periods=n_days, freq="D")
    return MONTH_FACTOR[days.month.to_numpy() - 1] * WEEKDAY_FACTOR[days.day_of_week.to_numpy()]


def _build_products(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    names, categories, prices, nouns_rank = [], [], [], []
    for cat in CATEGORIES:
        median, sigma = CATEGORY_PRICE[cat]
        base = rng.lognormal(np.log(median), sigma, size=len(PRODUCT_NOUNS[cat]))
        for variant_i, variant in enumerate(PRODUCT_VARIANTS):
            for noun_i, noun in enumerate(PRODUCT_NOUNS[cat]):
                names.append(f"{variant} {noun}" if variant_i else noun)
                categories.append(cat)
                prices.append(base[noun_i] * (PREMIUM_PRICE_FACTOR if variant_i else 1.0))
                nouns_rank.append(noun_i)
    n = len(names)
    price = np.maximum(np.round(np.array(prices), 2), 0.5)
    product_id = np.arange(1, n + 1, dtype=np.int64)
    category_arr = np.array(categories, dtype=object)
    per_cat = n // len(CATEGORIES)
    # Partner: a random product of the companion category, fixed for the catalogue.
    cat_index = {c: i for i, c in enumerate(CATEGORIES)}
    partner = np.empty(n, dtype=np.int64)
    for i in range(n):
        companion = cat_index[CATEGORY_PARTNER[categories[i]]]
        partner[i] = companion * per_cat + rng.integers(per_cat)
    # Popularity within a category: Zipf over a random order of the category's products.
    popularity = np.empty((len(CATEGORIES), per_cat))
    for c in range(len(CATEGORIES)):
        ranks = rng.permutation(per_cat) + 1
        weights = ranks.astype(float) ** -PRODUCT_POPULARITY_EXPONENT
        popularity[c] = weights / weights.sum()
    active = np.ones(n, dtype=bool)
    active[rng.choice(n, size=max(1, n // 40), replace=False)] = False  # a few discontinued lines
    products = pd.DataFrame({
        "product_id": product_id,
        "sku": np.array([f"SKU-{cat_index[c]:02d}{i % per_cat:03d}" for i, c in enumerate(categories)],
                        dtype=object),
        "name": np.array(names, dtype=object),
        "category": category_arr,
        "price": price.astype(np.float64),
        "active": active,
    })
    return products, partner, popularity


def _build_identities(rng: np.random.Generator, n: int, is_zh: np.ndarray, is_female: np.ndarray):
    idx = np.arange(n)
    name = np.empty(n, dtype=object)
    email_local = np.empty(n, dtype=object)

    zh = np.flatnonzero(is_zh)
    fam = rng.integers(len(CHINESE_FAMILY), size=len(zh))
    gf = rng.integers(len(CHINESE_GIVEN_F), size=len(zh))
    gm = rng.integers(len(CHINESE_GIVEN_M), size=len(zh))
    fam_chr = np.array([c for c, _ in CHINESE_FAMILY], dtype=object)[fam]
    fam_py = np.array([p for _, p in CHINESE_FAMILY], dtype=object)[fam]
    female = is_female[zh]
    given_chr = np.where(female, np.array([c for c, _ in CHINESE_GIVEN_F], dtype=object)[gf],
                         np.array([c for c, _ in CHINESE_GIVEN_M], dtype=object)[gm])
    given_py = np.where(female, np.array([p for _, p in CHINESE_GIVEN_F], dtype=object)[gf],
                        np.array([p for _, p in CHINESE_GIVEN_M], dtype=object)[gm])
    name[zh] = fam_chr + given_chr                       # Chinese order: family name first
    email_local[zh] = given_py + "." + fam_py

    en = np.flatnonzero(~is_zh)
    fam = np.array(ENGLISH_FAMILY, dtype=object)[rng.integers(len(ENGLISH_FAMILY), size=len(en))]
    given = np.where(is_female[en],
                     _choice(rng, np.array(ENGLISH_GIVEN_F, dtype=object), len(en)),
                     _choice(rng, np.array(ENGLISH_GIVEN_M, dtype=object), len(en)))
    name[en] = given + " " + fam
    email_local[en] = given + "." + fam

    # The customer number keeps addresses unique even when names repeat.
    suffix = pd.Series(idx + 1).astype(str).to_numpy(dtype=object)
    email = pd.Series(email_local + "." + suffix + "@" + _choice(rng, EMAIL_DOMAINS, n)).str.lower()
    email = email.to_numpy(dtype=object, copy=True)
    email[rng.random(n) < MISSING_EMAIL_SHARE] = ""
    return name, email


def _build_phones(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """E.164 numbers; US and UK ones sit in ranges reserved for fiction that libphonenumber accepts."""
    n = len(country)
    cn_prefix = rng.choice([130, 131, 135, 136, 137, 138, 139, 150, 151, 158, 177, 186, 188], size=n)
    cn = "+86" + pd.Series(cn_prefix * 10**8 + rng.integers(10**8, size=n)).astype(str)
    us_area = rng.choice([212, 415, 312, 512, 206, 646, 917], size=n)
    us = "+1" + pd.Series(us_area * 10**7 + 5550100 + rng.integers(100, size=n)).astype(str)
    gb_prefix = _choice(rng, GB_FICTION_PREFIXES, n)
    gb = gb_prefix + pd.Series(rng.integers(1000, size=n)).astype(str).str.zfill(3).to_numpy(dtype=object)
    gb = pd.Series(gb)
    phone = np.where(country == "CN", cn.to_numpy(dtype=object),
                     np.where(country == "US", us.to_numpy(dtype=object), gb.to_numpy(dtype=object)))
    phone = phone.astype(object)
    phone[rng.random(n) < MISSING_PHONE_SHARE] = ""
    return phone


def _simulate_purchases(rng, start, end, rate, dropout, bad_prob, season, season_max, peak):
    """Run the thinned BG/NBD process for every buyer at once, one purchase round per loop.

    Returns per purchase: customer index, time in days since the origin, bad-experience flag,
    and per customer the dropout time (NaN while still alive).
    """
    n = len(start)
    idx = np.flatnonzero(np.isfinite(start))
    t = start[idx].copy()
    out_c, out_t, out_bad = [], [], []
    dropout_at = np.full(n, np.nan)
    while idx.size:
        # A purchase happens now for everyone in ``idx``.
        day = t.astype(np.int64)
        bad = rng.random(idx.size) < bad_prob[idx] * np.where(peak[day], PEAK_SEASON_BAD_FACTOR, 1.0)
        out_c.append(idx)
        out_t.append(t)
        out_bad.append(bad)
        leave_prob = 1.0 - (1.0 - dropout[idx]) * (1.0 - BAD_EXPERIENCE_DROPOUT * bad)
        leaves = rng.random(idx.size) < leave_prob
        dropout_at[idx[leaves]] = t[leaves]
        idx, t = idx[~leaves], t[~leaves]
        # Next accepted candidate by thinning; customers reaching as_of drop out of the loop.
        waiting = np.ones(idx.size, dtype=bool)
        t = t.copy()
        while waiting.any():
            w = np.flatnonzero(waiting)
            t[w] += rng.exponential(1.0 / (rate[idx[w]] * season_max))
            inside = t[w] < end
            accept = np.zeros(w.size, dtype=bool)
            accept[inside] = rng.random(inside.sum()) < season[t[w[inside]].astype(np.int64)] / season_max
            waiting[w[~inside | accept]] = False
        keep = t < end
        idx, t = idx[keep], t[keep]
    if not out_c:  # nobody buys (a tiny set of customers who all stay prospects)
        return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0, dtype=bool), dropout_at
    return (np.concatenate(out_c), np.concatenate(out_t), np.concatenate(out_bad), dropout_at)


def _pick_text(rng, pools: dict[str, list[str]], language: np.ndarray, keys: np.ndarray | None = None):
    """Vectorised template choice: a random sentence from pools[language] (or [language][key])."""
    out = np.empty(len(language), dtype=object)
    for lang in ("en", "zh"):
        m = language == lang
        if keys is None:
            options = np.array(pools[lang], dtype=object)
            out[m] = options[rng.integers(len(options), size=m.sum())]
        else:
            for key in np.unique(keys[m]):
                mk = m & (keys == key)
                options = np.array(pools[lang][key], dtype=object)
                out[mk] = options[rng.integers(len(options), size=mk.sum())]
    return out


def generate_demo(n_customers: int, seed: int, as_of: pd.Timestamp) -> DemoData:
    """Generate ``n_customers`` customers with orders, items, feedback and interactions.

    Deterministic for (n_customers, seed, as_of). All timestamps are <= ``as_of``.
    About 10 orders per customer on average; 100,000 customers take a few seconds.
    """
    if n_customers < 1:
        raise ValueError("n_customers must be at least 1")
    rng = np.random.default_rng(seed)
    as_of = _as_naive_utc(as_of)
    n = int(n_customers)
    origin = (as_of - pd.Timedelta(days=HISTORY_DAYS + 1)).normalize()
    origin_ns = origin.value
    end = (as_of.value - origin_ns) / NS_PER_DAY          # as_of in days since origin
    n_days = int(np.ceil(end)) + 2
    season = _season_table(origin, n_days)
    season_max = float(season.max())
    peak = np.isin(pd.date_range(origin, periods=n_days, freq="D").month.to_numpy(), [11, 12])

    products, partner, popularity = _build_products(rng)
    n_cat = len(CATEGORIES)
    per_cat = len(products) // n_cat

    # --- Customers -------------------------------------------------------------------------
    customer_id = np.arange(1, n + 1, dtype=np.int64)
    is_zh = rng.random(n) < CHINESE_SHARE
    is_female = rng.random(n) < FEMALE_SHARE
    gender = np.where(is_female, "female", "male").astype(object)
    gender[rng.random(n) < GENDER_UNSTATED_SHARE] = ""
    signup_x = np.log1p(rng.random(n) * np.expm1(SIGNUP_GROWTH)) / SIGNUP_GROWTH
    signup_t = (end - HISTORY_DAYS) + signup_x * HISTORY_DAYS
    signup_t = np.minimum(signup_t, end - 1e-6)

    rate = rng.gamma(PURCHASE_RATE_SHAPE, 1.0 / PURCHASE_RATE_SCALE_DAYS, size=n)
    rate = np.minimum(rate, MAX_PURCHASE_RATE)
    rate = np.maximum(rate, 1e-5)
    dropout = rng.beta(DROPOUT_A, DROPOUT_B, size=n)
    bad_prob = rng.beta(BAD_EXPERIENCE_A, BAD_EXPERIENCE_B, size=n)
    spend_factor = rng.gamma(SPEND_FACTOR_SHAPE, 1.0 / SPEND_FACTOR_SHAPE, size=n)
    never_bought = rng.random(n) < NEVER_BOUGHT_SHARE
    channel = _choice(rng, CUSTOMER_CHANNELS, n, CUSTOMER_CHANNEL_WEIGHTS)
    # Tea leans Chinese, coffee leans English/American: gives segments a visible difference.
    culture_tilt = np.ones((n, n_cat))
    culture_tilt[is_zh, CATEGORIES.index("Tea")] = 2.5
    culture_tilt[~is_zh, CATEGORIES.index("Coffee")] = 2.5
    preference = rng.dirichlet(np.full(n_cat, PREFERENCE_CONCENTRATION), size=n) * culture_tilt
    preference /= preference.sum(axis=1, keepdims=True)

    # --- Purchases -------------------------------------------------------------------------
    start = np.where(never_bought, np.nan, signup_t)
    p_cust, p_time, p_bad, dropout_at = _simulate_purchases(
        rng, start, end, rate, dropout, bad_prob, season, season_max, peak)
    # Time of day: the process fixes the day, shoppers keep waking hours (peak mid-afternoon).
    hour = np.clip(rng.normal(ORDER_HOUR_MEAN, ORDER_HOUR_SD, size=p_time.size), 7.0, 23.5) / 24.0
    p_time = np.minimum(np.floor(p_time) + hour, end)
    order_sort = np.lexsort((p_cust, p_time))
    p_cust, p_time, p_bad = p_cust[order_sort], p_time[order_sort], p_bad[order_sort]
    n_orders = p_cust.size
    order_id = np.arange(1, n_orders + 1, dtype=np.int64)
    ordered_at = _to_datetime(origin_ns, p_time)
    p_day = p_time.astype(np.int64)
    reason_peak = _choice(rng, COMPLAINT_REASONS, n_orders, REASON_WEIGHTS_PEAK)
    reason_normal = _choice(rng, COMPLAINT_REASONS, n_orders, REASON_WEIGHTS_NORMAL)
    bad_reason = np.where(p_bad, np.where(peak[p_day], reason_peak, reason_normal), "").astype(object)

    # Sign-up is the first order's time for buyers; a lead's sign-up stays where it was drawn.
    first_time = np.full(n, np.inf)
    np.minimum.at(first_time, p_cust, p_time)
    signup_t = np.minimum(signup_t, first_time)
    # Dropout happens right after the last purchase; move it with that purchase's time of day.
    last_time = np.full(n, -np.inf)
    np.maximum.at(last_time, p_cust, p_time)
    dropout_at = np.where(np.isnan(dropout_at), np.nan, last_time)

    # --- Items -----------------------------------------------------------------------------
    order_cust = p_cust
    lines = 1 + rng.poisson(EXTRA_LINES_MEAN * spend_factor[order_cust])
    lines = np.minimum(lines, MAX_LINES)
    item_order = np.repeat(np.arange(n_orders), lines)
    starts = np.cumsum(lines) - lines
    position = np.arange(item_order.size) - starts[item_order]
    item_cust = order_cust[item_order]
    fresh_cat = _categorical_rows(rng, preference[item_cust])
    pop_cum = np.cumsum(popularity, axis=1)
    u = rng.random(item_order.size)
    within = np.minimum((pop_cum[fresh_cat] <= u[:, None]).sum(axis=1), per_cat - 1)
    product = fresh_cat * per_cat + within
    use_partner = rng.random(item_order.size) < PARTNER_PROBABILITY
    for k in range(1, int(lines.max(initial=0))):
        at_k = np.flatnonzero((position == k) & use_partner)
        product[at_k] = partner[product[at_k - 1]]
    # An order lists a product once.
    key = item_order.astype(np.int64) * len(products) + product
    _, keep = np.unique(key, return_index=True)
    keep.sort()
    item_order, product, item_cust = item_order[keep], product[keep], item_cust[keep]
    extra_units = np.minimum(rng.poisson(QUANTITY_EXTRA_MEAN * spend_factor[item_cust]), MAX_QUANTITY - 1)
    quantity = (1 + extra_units).astype(np.int64)
    list_price = products["price"].to_numpy()[product]
    promo = peak[p_day[item_order]] & (rng.random(product.size) < PROMO_SHARE)
    unit_price = np.round(list_price * np.where(promo, 1.0 - PROMO_DISCOUNT, 1.0), 2)
    line_total = np.round(quantity * unit_price, 2)
    total_amount = np.round(np.bincount(item_order, weights=line_total, minlength=n_orders), 2)

    order_status = np.full(n_orders, "completed", dtype=object)
    refund_bad = np.isin(bad_reason, ["delivery", "product quality"])
    refunded = rng.random(n_orders) < np.where(refund_bad, REFUND_SHARE_BAD, REFUND_SHARE_GOOD)
    order_status[refunded] = "refunded"
    order_status[(rng.random(n_orders) < CANCEL_SHARE) & ~refunded] = "cancelled"
    customer_order_channel = np.where(channel == "store", "store",
                                      np.where(channel == "manual", "phone", "ecommerce")).astype(object)
    order_channel = np.where(rng.random(n_orders) < USUAL_CHANNEL_SHARE, customer_order_channel[order_cust],
                             _choice(rng, ORDER_CHANNELS, n_orders))

    orders = pd.DataFrame({
        "order_id": order_id,
        "customer_id": customer_id[order_cust],
        "ordered_at": ordered_at,
        "total_amount": total_amount.astype(np.float64),
        "channel": order_channel.astype(object),
        "external_id": pd.Series(order_id).map("O{:07d}".format).to_numpy(dtype=object),
        "status": order_status,
    })
    items = pd.DataFrame({
        "order_id": order_id[item_order],
        "customer_id": customer_id[item_cust],
        "product_id": products["product_id"].to_numpy()[product],
        "quantity": quantity,
        "unit_price": unit_price.astype(np.float64),
        "ordered_at": ordered_at[item_order],
    })

    # --- Feedback --------------------------------------------------------------------------
    language_by_customer = np.where(is_zh, "zh", "en").astype(object)
    writes = rng.random(n_orders) < np.where(p_bad, FEEDBACK_SHARE_BAD, FEEDBACK_SHARE_GOOD)
    fb_order = np.flatnonzero(writes)
    fb_delay = rng.gamma(2.0, 1.5, size=fb_order.size) + 0.1  # written a few days after ordering
    fb_time = p_time[fb_order] + fb_delay
    in_window = fb_time <= end
    fb_order, fb_time = fb_order[in_window], fb_time[in_window]
    m = fb_order.size
    fb_lang = language_by_customer[order_cust[fb_order]]
    fb_bad = p_bad[fb_order]
    fb_reason = bad_reason[fb_order]
    rating = np.where(
        fb_bad,
        rng.choice([1, 2, 3], size=m, p=[0.55, 0.35, 0.10]),
        rng.choice([2, 3, 4, 5], size=m, p=[0.03, 0.12, 0.37, 0.48]),
    ).astype(np.float64)
    text = np.empty(m, dtype=object)
    neg = fb_bad
    text[neg] = (_pick_text(rng, NEGATIVE_OPENERS, fb_lang[neg])
                 + _pick_text(rng, NEGATIVE_TEXT, fb_lang[neg], fb_reason[neg])
                 + _pick_text(rng, NEGATIVE_CLOSERS, fb_lang[neg]))
    pos = ~fb_bad & (rating >= 4)
    text[pos] = _pick_text(rng, POSITIVE_OPENERS, fb_lang[pos]) + _pick_text(rng, POSITIVE_TEXT, fb_lang[pos])
    mid = ~fb_bad & (rating < 4)
    text[mid] = _pick_text(rng, NEUTRAL_TEXT, fb_lang[mid])
    fb_channel = _choice(rng, FEEDBACK_CHANNELS, m, FEEDBACK_CHANNEL_WEIGHTS)
    free_text = np.isin(fb_channel, ["email", "social"])
    free_text_share = FEEDBACK_CHANNEL_WEIGHTS[np.isin(FEEDBACK_CHANNELS, ["email", "social"])].sum()
    unrated = free_text & (rng.random(m) < UNRATED_FEEDBACK_SHARE / free_text_share)
    rating[unrated] = np.nan
    # Social posts are not tied to an order; everything else is.
    fb_order_id = pd.array(np.where(fb_channel == "social", 0, order_id[fb_order]), dtype="Int64")
    fb_order_id[fb_channel == "social"] = pd.NA
    # The review is about the order's first line: gives product-level ratings something to show.
    first_line = np.unique(item_order, return_index=True)[1]
    first_product = products["product_id"].to_numpy()[product[first_line]]
    fb_product_id = pd.array(first_product[fb_order], dtype="Int64")
    fb_product_id[fb_channel == "social"] = pd.NA
    fb_sort = np.lexsort((fb_order, fb_time))
    feedback = pd.DataFrame({
        "feedback_id": np.arange(1, m + 1, dtype=np.int64),
        "customer_id": customer_id[order_cust[fb_order]][fb_sort],
        "created_at": _to_datetime(origin_ns, fb_time)[fb_sort],
        "rating": rating[fb_sort],
        "text": text[fb_sort],
        "language": fb_lang[fb_sort],
        "sentiment_score": np.full(m, np.nan),
        "complaint_reason": fb_reason[fb_sort],
        "channel": fb_channel[fb_sort],
        "order_id": fb_order_id[fb_sort],
        "product_id": fb_product_id[fb_sort],
    })

    # --- Interactions ----------------------------------------------------------------------
    complains = p_bad & (rng.random(n_orders) < COMPLAINT_INTERACTION_SHARE)
    c_order = np.flatnonzero(complains)
    c_time = p_time[c_order] + rng.uniform(0.2, 5.0, size=c_order.size)
    ok = c_time <= end
    c_order, c_time = c_order[ok], c_time[ok]
    complaint_reason_arr = bad_reason[c_order]
    complaint_frame = pd.DataFrame({
        "customer_id": customer_id[order_cust[c_order]],
        "occurred_at": c_time,
        "kind": "complaint",
        "outcome": _choice(rng, COMPLAINT_OUTCOMES, c_order.size, COMPLAINT_OUTCOME_WEIGHTS),
        "staff_role": np.where(rng.random(c_order.size) < 0.15, "Manager", "Service").astype(object),
        "note": pd.Series(complaint_reason_arr).map(COMPLAINT_NOTES).to_numpy(dtype=object),
    })
    # Routine contacts while the relationship lasts (until dropout plus a month, or as_of).
    active_until = np.minimum(np.where(np.isnan(dropout_at), end, dropout_at + 30.0), end)
    span_years = np.maximum(active_until - signup_t, 0.0) / 365.0
    n_routine = rng.poisson(ROUTINE_INTERACTIONS_PER_YEAR * span_years)
    r_cust = np.repeat(np.arange(n), n_routine)
    r_time = signup_t[r_cust] + rng.random(r_cust.size) * (active_until[r_cust] - signup_t[r_cust])
    r_kind = _choice(rng, INTERACTION_KINDS, r_cust.size, INTERACTION_KIND_WEIGHTS)
    r_outcome = np.empty(r_cust.size, dtype=object)
    r_note = np.empty(r_cust.size, dtype=object)
    for kind in INTERACTION_KINDS:
        mk = r_kind == kind
        r_outcome[mk] = np.array(INTERACTION_OUTCOMES[kind], dtype=object)[rng.integers(4, size=mk.sum())]
        r_note[mk] = np.array(INTERACTION_NOTES[kind], dtype=object)[rng.integers(4, size=mk.sum())]
    r_role = np.where(np.isin(r_kind, ["chat"]) | (rng.random(r_cust.size) < 0.3), "Service", "Sales")
    r_role = np.where(rng.random(r_cust.size) < 0.05, "Manager", r_role).astype(object)
    routine_frame = pd.DataFrame({
        "customer_id": customer_id[r_cust],
        "occurred_at": r_time,
        "kind": r_kind,
        "outcome": r_outcome,
        "staff_role": r_role,
        "note": r_note,
    })
    interactions = pd.concat([routine_frame, complaint_frame], ignore_index=True)
    interactions = interactions.sort_values(["occurred_at", "customer_id"], kind="stable", ignore_index=True)
    interactions["occurred_at"] = _to_datetime(origin_ns, interactions["occurred_at"].to_numpy())
    interactions.insert(0, "interaction_id", np.arange(1, len(interactions) + 1, dtype=np.int64))

    # --- Customer status, identity, consent -------------------------------------------------
    bad_count = np.bincount(p_cust, weights=p_bad, minlength=n)
    had_bad = bad_count > 0
    dead = ~np.isnan(dropout_at)
    cancels = dead & (rng.random(n) < np.where(had_bad, EXPLICIT_CANCEL_AFTER_BAD, EXPLICIT_CANCEL_OTHERWISE))
    churned_t = np.where(cancels, np.nan_to_num(dropout_at) + rng.exponential(20.0, size=n), np.nan)
    cancels &= churned_t <= end
    churned_t[~cancels] = np.nan
    status = np.where(cancels, "churned", "active").astype(object)

    country = np.empty(n, dtype=object)
    city = np.empty(n, dtype=object)
    region = np.empty(n, dtype=object)
    for mask, table in ((is_zh, CITIES_ZH), (~is_zh, CITIES_EN)):
        w = np.array([row[3] for row in table])
        pick = rng.choice(len(table), size=mask.sum(), p=w / w.sum())
        country[mask] = np.array([row[0] for row in table], dtype=object)[pick]
        city[mask] = np.array([row[1] for row in table], dtype=object)[pick]
        region[mask] = np.array([row[2] for row in table], dtype=object)[pick]
    name, email = _build_identities(rng, n, is_zh, is_female)
    phone = _build_phones(rng, country)
    age_days = rng.uniform(18 * 365.25, 78 * 365.25, size=n)
    birth_date = (as_of.normalize() - pd.to_timedelta(np.round(age_days), unit="D")).normalize()
    birth_date = pd.Series(birth_date).dt.date.to_numpy(dtype=object, copy=True)
    birth_date[rng.random(n) < MISSING_BIRTH_DATE_SHARE] = None
    consent = rng.random(n) < CONSENT_SHARE
    consent_t = signup_t + rng.random(n) * np.minimum(30.0, end - signup_t)
    consent_at = pd.Series(_to_datetime(origin_ns, np.where(consent, consent_t, 0.0)))
    consent_at[~consent] = pd.NaT
    churned_at = pd.Series(_to_datetime(origin_ns, np.nan_to_num(churned_t)))
    churned_at[~cancels] = pd.NaT

    customers = pd.DataFrame({
        "customer_id": customer_id,
        "signup_date": _to_datetime(origin_ns, signup_t),
        "status": status,
        "gender": gender,
        "region": region,
        "city": city,
        "channel": channel,
        "consent": consent,
        "external_id": pd.Series(customer_id).map("C{:06d}".format).to_numpy(dtype=object),
        "name": name,
        "email": email,
        "phone": phone,
        "birth_date": birth_date,
        "country": country,
        "consent_at": consent_at.to_numpy(),
        "churned_at": churned_at.to_numpy(),
    })
    latent = pd.DataFrame({
        "customer_id": customer_id,
        "purchase_rate": rate,
        "dropout_probability": dropout,
        "bad_experience_probability": bad_prob,
        "spend_factor": spend_factor,
        "is_alive": ~dead & ~never_bought,
        "dropout_at": pd.Series(_to_datetime(origin_ns, np.nan_to_num(dropout_at))).where(dead).to_numpy(),
        "bad_experiences": bad_count.astype(np.int64),
    })
    return DemoData(customers=customers, products=products, orders=orders, items=items,
                    feedback=feedback, interactions=interactions, latent=latent, as_of=as_of, seed=seed)
