"""Calibrating REVIEWED_ANSWER_MIN_SIMILARITY: how many paraphrases get their reviewed answer,
and how many near-miss questions wrongly get one, at each threshold.

    .venv/bin/python bench/reviewed_answers.py

Five reviewed answers, each with the question and two variants (one in Chinese), as staff would
write them; paraphrases in English and Chinese that should get them; near misses that share
words or shape with one but ask something else (they should not). A question gets the answer
whose best phrasing is closest in meaning (cosine), if that reaches the threshold. Uses the
deployment's embedder (get_embedder()); needs no database.
"""

from __future__ import annotations

import numpy as np
from common import setup_django_without_database, stamp

REVIEWED = [
    [
        "How many questions may I ask each day?",
        "What is the daily question limit?",
        "每天可以问多少个问题？",
    ],
    ["How do I reset my password?", "I forgot my password", "怎么重置密码？"],
    ["What file size can I upload?", "What is the maximum upload size?", "上传文件最大可以多大？"],
    ["How do I export the usage report as CSV?", "Download usage as CSV", "怎样导出用量报表？"],
    [
        "Who can see a private collection?",
        "Who may read a private collection?",
        "谁能看到私有文档集？",
    ],
]
PARAPHRASES = [
    (0, "How many questions per day am I allowed?"),
    (0, "每天提问的上限是多少"),
    (0, "Is there a limit on how many questions I can ask daily?"),
    (0, "一天最多能提几个问题？"),
    (1, "How can I set a new password?"),
    (1, "忘记密码了怎么办"),
    (1, "I can't remember my password, what should I do?"),
    (1, "如何修改登录密码？"),
    (2, "How big can an uploaded file be?"),
    (2, "上传文件的大小限制是多少？"),
    (2, "Is there a file size limit for uploads?"),
    (3, "Can I download usage figures as a CSV file?"),
    (3, "怎样把用量报表导出为 CSV？"),
    (4, "Which people can read a private collection?"),
    (4, "私有文档集谁可以访问？"),
]
NEAR_MISSES = [
    "How many documents may I upload each day?",
    "How many questions did I ask yesterday?",
    "每天可以上传多少个文件？",
    "How do I reset my API token?",
    "How do I change my username?",
    "怎么重置 API 令牌？",
    "What file types can I upload?",
    "可以上传哪些文件类型？",
    "How do I import users from a CSV file?",
    "怎样导入 CSV 格式的用户列表？",
    "How do I create a private collection?",
    "怎样删除一个文档集？",
    "How do I make a collection private?",
    "What is the capital of France?",
    "今天天气怎么样？",
    "How many questions may my team ask each month?",
]
THRESHOLDS = [0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90]


def unit(vectors) -> np.ndarray:
    array = np.asarray(vectors, dtype=float)
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def main() -> None:
    setup_django_without_database()
    from django.conf import settings

    from ingest.embedders import get_embedder

    embedder = get_embedder()
    phrasings = [(n, text) for n, texts in enumerate(REVIEWED) for text in texts]
    stored = unit(embedder.embed([text for _, text in phrasings]))
    owner = np.array([n for n, _ in phrasings])

    def best(questions: list[str]) -> list[tuple[int, float]]:
        similarity = unit(embedder.embed(questions)) @ stored.T
        out = []
        for row in similarity:
            per_answer = [row[owner == n].max() for n in range(len(REVIEWED))]
            top = int(np.argmax(per_answer))
            out.append((top, float(per_answer[top])))
        return out

    paraphrases = best([q for _, q in PARAPHRASES])
    near = best(NEAR_MISSES)
    print(stamp())
    print(
        f"embedder {embedder.model}; {len(REVIEWED)} reviewed answers, {len(phrasings)} phrasings"
    )
    print(f"setting now: REVIEWED_ANSWER_MIN_SIMILARITY={settings.REVIEWED_ANSWER_MIN_SIMILARITY}")
    print("threshold  paraphrases served (right/wrong)  near misses served")
    served = [(want, got, s) for (want, _), (got, s) in zip(PARAPHRASES, paraphrases, strict=True)]
    for t in THRESHOLDS:
        right = sum(1 for want, got, s in served if s >= t and got == want)
        wrong = sum(1 for want, got, s in served if s >= t and got != want)
        false = sum(1 for _, s in near if s >= t)
        print(
            f"{t:9.2f}  {right:2d}/{len(served)} right, {wrong} wrong{'':14}{false:2d}/{len(near)}"
        )
    print("near misses, closest first:")
    for (_, s), q in sorted(zip(near, NEAR_MISSES, strict=True), key=lambda x: -x[0][1]):
        print(f"  {s:.3f}  {q}")


if __name__ == "__main__":
    main()
