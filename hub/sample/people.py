"""Obviously fake people: names in the anonymised 王某华 style and phone numbers in 1380000xxxx."""

from __future__ import annotations

import random

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚"
    "卢姜钟陆汪范金石贾夏方邹孟秦邱江薛雷侯史陶顾毛龚邵钱严戴莫孔汤楼俞傅来葛施韦洪"
)
GIVEN = "华军伟芳敏静丽强磊洋艳勇杰娟涛明超秀霞平刚桂英建国海燕红波辉鹏斌宇浩凯峰琳晨雪丹萍坚"


def person_name(r: random.Random) -> str:
    return r.choice(SURNAMES) + "某" + r.choice(GIVEN)


class PhoneBook:
    """Hands out distinct fake mobile numbers 13800000001, 13800000002, ... in a seeded order."""

    def __init__(self, r: random.Random, prefix: str = "1380000") -> None:
        self._numbers = [f"{prefix}{n:04d}" for n in range(1, 10000)]
        r.shuffle(self._numbers)

    def next(self) -> str:
        return self._numbers.pop()
