"""The predict interface: labels, calibrated confidence, top-3, explanation,
abstain; the fast inference path against sklearn's own."""
from __future__ import annotations

import dataclasses
import os
import threading

import numpy as np
import pytest

from classifier import text as textprep
from classifier.model import Docs, Prediction, choose_threshold

LABELS = {"城乡建设", "劳动和社会保障", "教育文体", "商贸旅游", "卫生计生", "环境保护", "交通运输"}
DEV = "/work/shared/data/complaints/dev.csv"


def test_labels_are_the_seven_topics(model):
    assert set(model.labels) == LABELS


def test_prediction_shape(model):
    p = model.predict("小区楼下的烧烤摊油烟太大，晚上噪音扰民，希望环保部门处理", subject="烧烤油烟扰民")
    assert isinstance(p, Prediction)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.label = "x"
    assert p.label in LABELS
    assert 0.0 < p.confidence <= 1.0
    assert len(p.top) == 3
    assert p.top[0] == (p.label, p.confidence)
    probs = [c for _, c in p.top]
    assert probs == sorted(probs, reverse=True)
    assert len({lab for lab, _ in p.top}) == 3 and sum(probs) <= 1.0 + 1e-9
    assert p.abstain == (p.confidence < model.threshold)
    assert p.model_version == model.version


def test_obvious_topics(model):
    cases = {
        "请问孩子小学入学需要准备哪些材料，学区划分怎么查询？学校什么时候报名": "教育文体",
        "公司拖欠工资三个月，也没有给我们缴纳社保和养老保险，劳动合同到期不续签": "劳动和社会保障",
        "化工厂夜间偷排污水，河水发黑发臭，空气污染严重，请环保局查处": "环境保护",
    }
    for text, label in cases.items():
        assert model.predict(text).label == label, text


def test_explanation_words_come_from_the_text(model):
    text = "拖欠农民工工资，包工头跑路了，劳动监察大队不管，社保也没交"
    p = model.predict(text)
    assert 1 <= len(p.explain) <= 5
    norm = textprep.normalize(text)
    for word, weight in p.explain:
        assert weight > 0
        assert word.startswith("[分类目录:") or word in norm, word
    weights = [w for _, w in p.explain]
    assert weights == sorted(weights, reverse=True)


def test_batch_equals_single(model, split):
    texts = split[2][:20]
    batch = model.predict_batch(texts)
    for t, b in zip(texts, batch):
        s = model.predict(t)
        assert s.label == b.label and s.confidence == pytest.approx(b.confidence)
        assert s.explain == b.explain


def test_batch_over_processes_keeps_order(model, split):
    texts = split[2][:120]
    assert model.predict_batch(texts, workers=2) == model.predict_batch(texts)


def test_subject_is_prepended_once(model):
    body = "小区电梯经常坏，物业不维修"
    subject = "电梯故障"
    assert model.predict(body, subject=subject) == model.predict(subject + body)
    # a text that already starts with its subject is not doubled
    assert model.predict(subject + body, subject=subject) == model.predict(subject + body)


def test_abstain_follows_threshold(model):
    import copy

    m = copy.copy(model)
    m.threshold = 1.01
    assert m.predict("路灯不亮").abstain
    m.threshold = 0.0
    assert not m.predict("路灯不亮").abstain


def test_char_keys_round_trip():
    from classifier.model import char_gram_keys, decode_char_key

    keys, counts = char_gram_keys("路灯路灯a😀", 1, 3)
    grams = {decode_char_key(k): int(c) for k, c in zip(keys, counts)}
    assert grams["路灯"] == 2 and grams["路"] == 2 and grams["灯路灯"] == 1
    assert grams["灯a😀"] == 1 and grams["😀"] == 1
    assert len(grams) == 4 + 4 + 4      # 4 distinct unigrams, bigrams, trigrams


def test_choose_threshold():
    conf = np.array([0.99, 0.95, 0.9, 0.8, 0.7, 0.6])
    correct = np.array([True, True, True, False, True, False])
    assert choose_threshold(conf, correct, 1.0) == 0.9
    assert choose_threshold(conf, correct, 0.8) == 0.7
    assert choose_threshold(conf, np.zeros(6, bool), 0.9) == 1.0


def test_fast_path_matches_sklearn(model, split):
    """Our TF-IDF blocks and dot products give sklearn's numbers."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    from classifier.model import _Block, word_ngrams

    tr = Docs.of(split[0][:200])
    te = Docs.of(split[2][:50])
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, lowercase=False)
    vec.fit(tr.norm)
    block = _Block(("chars", 1, 3, 0)).fit(tr)
    names = block.names()
    assert sorted(names) == list(vec.get_feature_names_out())
    order = [vec.vocabulary_[n] for n in names]
    np.testing.assert_allclose(block.transform(te).toarray(), vec.transform(te.norm).toarray()[:, order],
                               atol=1e-12)
    head = _Block(("chars", 1, 3, 25)).fit(tr)
    hvec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2,
                           lowercase=False).fit([n[:25] for n in tr.norm])
    order = [hvec.vocabulary_[n] for n in head.names()]
    np.testing.assert_allclose(head.transform(te).toarray(),
                               hvec.transform([n[:25] for n in te.norm]).toarray()[:, order], atol=1e-12)
    wvec = TfidfVectorizer(analyzer=word_ngrams, sublinear_tf=True, min_df=2).fit(tr.tokens)
    wblock = _Block(("words",)).fit(tr)
    np.testing.assert_allclose(wblock.transform(te).toarray(), wvec.transform(te.tokens).toarray(), atol=1e-12)

    x, _ = model.base.features.transform(te)
    margins = model.base.svc.decision_function(x)
    fast, _ = model.proba(split[2][:50])
    np.testing.assert_allclose(fast, model.calibrator.predict_proba(margins), atol=1e-9)
    # temperature scaling keeps the SVM's choice
    assert (fast.argmax(1) == margins.argmax(1)).all()


def test_nb_stack_variant_matches_sklearn(split):
    """The optional SVM + ComplementNB stack: fast path = sklearn's numbers."""
    from classifier.model import TrainConfig, train

    m = train(split[0][:400], split[1][:400], TrainConfig(char_ngrams=(1, 2), folds=3, with_nb=True),
              quiet=True)
    te = Docs.of(split[2][:30])
    x, w = m.base.features.transform(te)
    z = lambda v: (v - v.mean(1, keepdims=True)) / v.std(1, keepdims=True)  # noqa: E731
    stacked = np.hstack([z(m.base.svc.decision_function(x)), z(m.base.nb.predict_log_proba(w))])
    fast, _ = m.proba(split[2][:30])
    np.testing.assert_allclose(fast, m.calibrator.predict_proba(stacked), atol=1e-9)


def test_holdout_quality(model, split):
    """The (fast, test-sized) model on the fixed holdout it never saw."""
    from classifier.evaluate import evaluate

    r = evaluate(model, split[2], split[3], latency_samples=5)
    assert r["n"] == len(split[2])
    assert r["macro_f1"] >= 0.85 and r["accuracy"] >= 0.85
    assert r["top3_accuracy"] >= 0.97
    assert r["ece"] < 0.08


@pytest.mark.skipif(not os.path.exists(DEV), reason="shared dev.csv is not present")
def test_dev_quality(model):
    from classifier import data
    from classifier.evaluate import evaluate

    r = evaluate(model, *data.read_csv(DEV), latency_samples=5)
    assert r["macro_f1"] >= 0.85 and r["accuracy"] >= 0.85


def test_get_predictor_is_a_thread_safe_singleton(default_model, monkeypatch):
    import classifier
    from classifier.model import Predictor

    loads = []
    real_load = Predictor.load

    def counting_load(path):
        loads.append(path)
        return real_load(path)

    monkeypatch.setattr(Predictor, "load", staticmethod(counting_load))
    got = []
    threads = [threading.Thread(target=lambda: got.append(classifier.get_predictor())) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(loads) == 1
    assert all(g is got[0] for g in got)
    assert classifier.get_predictor() is got[0]


def test_a_default_model_of_an_old_format_is_retrained(model_dir, monkeypatch):
    import joblib

    import classifier
    from classifier import model as model_mod

    joblib.dump({"format": 1, "predictor": None}, model_dir / "default.joblib")
    real_train = model_mod.train
    monkeypatch.setattr(model_mod, "train",
                        lambda t, y, cfg=None, **kw: real_train(t[:300], y[:300], model_mod.TrainConfig.fast(), **kw))
    p = classifier.get_predictor()
    assert p.meta["n_train"] == 300
    assert joblib.load(model_dir / "default.joblib")["format"] == model_mod.FORMAT_VERSION


def test_first_start_trains_the_default_model(model_dir, monkeypatch):
    """No model file: get_predictor trains one from the shipped data and
    saves it (with the fast configuration here, to keep the test short)."""
    import classifier
    from classifier import model as model_mod

    real_train = model_mod.train
    monkeypatch.setattr(model_mod, "train",
                        lambda t, y, cfg=None, **kw: real_train(t, y, model_mod.TrainConfig.fast(), **kw))
    p = classifier.get_predictor()
    assert (model_dir / "default.joblib").exists()
    assert p.meta["n_train"] == 1855
    assert p.predict("公交车司机态度恶劣，线路调整后站点太远").label in LABELS
