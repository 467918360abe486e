"""Enhanced mail system status codes (``class.subject.detail``, e.g. ``5.7.1``), in English and
Chinese: what each means and what a client should do about it.

The data behind ``smtpfake explain 5.7.1 4.7.1``. The codes, their sample texts and the basic
reply codes each is used with are the IANA "SMTP Enhanced Status Codes" registry (RFC 5248):
its initial entries (RFC 5248 §2.4: RFC 3463 §3.1-3.8, RFC 3886 X.1.9, RFC 4468 X.6.6, RFC 4954
§6 X.5.6, X.7.8, X.7.9, X.7.11, X.7.12, and RFC 5248's own X.7.10, X.7.13, X.7.14) and those
registered since: RFC 6531 (X.6.7-X.6.10), RFC 6710 (X.3.6, X.7.15, X.7.16), RFC 7293
(X.7.17-X.7.19), RFC 7372 (X.7.20-X.7.26), RFC 7504 (521 added to X.3.2), RFC 7505 (X.1.10,
X.7.27) and draft-levine-mailbomb-header (X.7.28). Left out: X.7.29 (RFC 8617) and X.7.30
(RFC 8689), whose basic reply codes in the registry could not be checked against a copy of it.
The class digit (2, 4, 5) and the subject digit (0-7) each have their own table (RFC 3463 §2).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "CLASSES",
    "ENHANCED_CODES",
    "SUBJECTS",
    "Bilingual",
    "EnhancedCode",
    "parse_enhanced",
    "unpadded",
]


@dataclass(frozen=True)
class Bilingual:
    """One text in English and Chinese."""

    en: str
    zh: str

    def __call__(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en


# RFC 3463 §3.1: the class sub-code.
CLASSES: Final[Mapping[int, Bilingual]] = MappingProxyType(
    {
        2: Bilingual(
            "2.X.X success: the action was completed.",
            "2.X.X 成功：请求的操作已经完成。",
        ),
        4: Bilingual(
            "4.X.X persistent transient failure: the message as sent is valid, but something "
            "temporary stopped it; sending it again later may succeed.",
            "4.X.X 持续性暂时失败：邮件本身没有问题，但被某个暂时的情况挡住了；稍后重发可能成功。",
        ),
        5: Bilingual(
            "5.X.X permanent failure: resending the message in the same form will fail again; "
            "something must change first.",
            "5.X.X 永久失败：原样重发仍会失败，必须先做出修改。",
        ),
    }
)

# RFC 3463 §2 and §3.2-3.8: the subject sub-code.
SUBJECTS: Final[Mapping[int, Bilingual]] = MappingProxyType(
    {
        0: Bilingual("X.0.X other or undefined status", "X.0.X 其他或未定义的状态"),
        1: Bilingual(
            "X.1.X addressing status (the sender's or a recipient's address)",
            "X.1.X 地址状态（发件人或收件人地址）",
        ),
        2: Bilingual("X.2.X mailbox status (at the destination)", "X.2.X 邮箱状态（目标邮箱）"),
        3: Bilingual(
            "X.3.X mail system status (the receiving host)",
            "X.3.X 邮件系统状态（接收方主机）",
        ),
        4: Bilingual(
            "X.4.X network and routing status",
            "X.4.X 网络与路由状态",
        ),
        5: Bilingual(
            "X.5.X mail delivery protocol status (the SMTP dialogue itself)",
            "X.5.X 邮件投递协议状态（SMTP 对话本身）",
        ),
        6: Bilingual(
            "X.6.X message content or media status",
            "X.6.X 邮件内容或媒体格式状态",
        ),
        7: Bilingual(
            "X.7.X security or policy status",
            "X.7.X 安全或策略状态",
        ),
    }
)


@dataclass(frozen=True)
class EnhancedCode:
    """One registry entry, ``X.subject.detail``; the class digit is given when explaining."""

    subject: int
    detail: int
    name: Bilingual
    description: Bilingual
    client_should: Bilingual
    #: the basic reply codes the registry associates with it; () where it says "Not given"
    basic: tuple[int, ...]
    rfc: str
    #: classes of which the registry allows any basic reply code: (5,) for its "5XX", (4, 5)
    #: for "other 4XX or 5XX codes are allowed"
    any_of_class: tuple[int, ...] = ()

    @property
    def key(self) -> str:
        """``"7.1"`` for X.7.1."""
        return f"{self.subject}.{self.detail}"


def _e(
    key: str,
    basic: tuple[int, ...],
    rfc: str,
    name: tuple[str, str],
    description: tuple[str, str],
    should: tuple[str, str],
    any_of_class: tuple[int, ...] = (),
) -> EnhancedCode:
    subject, detail = (int(p) for p in key.split("."))
    return EnhancedCode(
        subject,
        detail,
        Bilingual(*name),
        Bilingual(*description),
        Bilingual(*should),
        basic,
        rfc,
        any_of_class,
    )


_ANY = (0,)  # X.0.0: the registry says "Any"

_CODES: Final[tuple[EnhancedCode, ...]] = (
    _e(
        "0.0",
        _ANY,
        "RFC 3463 §3.1",
        ("Other undefined status", "其他未定义状态"),
        (
            "No more specific code applies; only the class (success, transient, permanent) "
            "carries meaning.",
            "没有更具体的代码可用；只有类别（成功、暂时失败、永久失败）有意义。",
        ),
        (
            "Act on the class digit alone and read the reply text for details.",
            "只按类别数字处理，并阅读回复文字了解细节。",
        ),
    ),
    _e(
        "1.0",
        (),
        "RFC 3463 §3.2",
        ("Other address status", "其他地址状态"),
        (
            "Something about an address (sender or recipient) is wrong, with no more specific "
            "code.",
            "某个地址（发件人或收件人）有问题，但没有更具体的代码。",
        ),
        (
            "Check the addresses in the envelope; the reply text usually says which one.",
            "检查信封中的地址；回复文字通常会指出是哪一个。",
        ),
    ),
    _e(
        "1.1",
        (451, 550),
        "RFC 3463 §3.2",
        ("Bad destination mailbox address", "目标邮箱地址无效"),
        (
            "The mailbox named left of the @ does not exist at the destination.",
            "@ 左边指定的邮箱在目标系统中不存在。",
        ),
        (
            "Do not retry this recipient: bounce it to the sender, who should correct the "
            "address (a typo, a departed user).",
            "不要重试该收件人：向发件人退信，由发件人更正地址（拼写错误或用户已离开）。",
        ),
    ),
    _e(
        "1.2",
        (),
        "RFC 3463 §3.2",
        ("Bad destination system address", "目标系统地址无效"),
        (
            "The domain right of the @ does not exist or cannot accept mail.",
            "@ 右边的域名不存在，或者无法接收邮件。",
        ),
        (
            "Check the recipient's domain for typos and its DNS (MX) records; do not retry "
            "unchanged.",
            "检查收件人域名是否拼错及其 DNS（MX）记录；不要原样重试。",
        ),
    ),
    _e(
        "1.3",
        (501,),
        "RFC 3463 §3.2",
        ("Bad destination mailbox address syntax", "目标邮箱地址语法错误"),
        (
            "The recipient address is syntactically invalid (RFC 5321 §4.1.2).",
            "收件人地址不符合语法（RFC 5321 §4.1.2）。",
        ),
        (
            "Fix the address syntax in RCPT TO: angle brackets, no spaces, one @.",
            "修正 RCPT TO 中的地址语法：使用尖括号、不要空格、只有一个 @。",
        ),
    ),
    _e(
        "1.4",
        (),
        "RFC 3463 §3.2",
        ("Destination mailbox address ambiguous", "目标邮箱地址不明确"),
        (
            "The address matches more than one mailbox at the destination.",
            "该地址在目标系统中对应多个邮箱。",
        ),
        (
            "Use a more specific address; ask the recipient for the exact one.",
            "改用更具体的地址；向收件人确认准确的地址。",
        ),
    ),
    _e(
        "1.5",
        (250,),
        "RFC 3463 §3.2",
        ("Destination address valid", "目标地址有效"),
        (
            "The recipient address was accepted (used with 2.X.X on RCPT).",
            "收件人地址已被接受（在 RCPT 上与 2.X.X 一起使用）。",
        ),
        (
            "Nothing to fix: go on with the next recipient or DATA.",
            "无需处理：继续下一个收件人或发送 DATA。",
        ),
    ),
    _e(
        "1.6",
        (),
        "RFC 3463 §3.2",
        ("Destination mailbox has moved, no forwarding address", "目标邮箱已迁移，无转发地址"),
        (
            "The mailbox existed but has moved, and the server knows no new address.",
            "该邮箱曾经存在但已迁移，服务器不知道新的地址。",
        ),
        (
            "Bounce it; the sender must find the recipient's new address another way.",
            "退信；发件人需要通过其他途径获得收件人的新地址。",
        ),
    ),
    _e(
        "1.7",
        (),
        "RFC 3463 §3.2",
        ("Bad sender's mailbox address syntax", "发件人邮箱地址语法错误"),
        (
            "The MAIL FROM address is syntactically invalid.",
            "MAIL FROM 中的地址不符合语法。",
        ),
        (
            "Fix the envelope sender in the client's configuration; resending as is fails again.",
            "在客户端配置中修正信封发件人；原样重发仍会失败。",
        ),
    ),
    _e(
        "1.8",
        (451, 501),
        "RFC 3463 §3.2",
        ("Bad sender's system address", "发件人系统地址无效"),
        (
            "The sender's domain does not exist or cannot receive replies (no MX or A record).",
            "发件人的域名不存在，或无法接收回信（没有 MX 或 A 记录）。",
        ),
        (
            "Use a sender domain with working DNS; with 4.1.8 the DNS lookup failed only for "
            "now, so retry later.",
            "使用 DNS 正常的发件域名；如果是 4.1.8，则只是暂时查询失败，稍后重试。",
        ),
    ),
    _e(
        "1.9",
        (),
        "RFC 3886 §3.3.4",
        ("Message relayed to non-compliant mailer", "邮件已转交给不合规的邮件系统"),
        (
            "The message was relayed to a system that cannot return the requested delivery "
            "status notification.",
            "邮件已被转交给一个无法返回所请求投递状态通知的系统。",
        ),
        (
            "Nothing to resend; just do not expect a further delivery report for this recipient.",
            "无需重发；只是不要再期待该收件人的后续投递报告。",
        ),
    ),
    _e(
        "1.10",
        (556,),
        "RFC 7505; RFC 7504",
        ("Recipient address has null MX", "收件人地址的域名使用空 MX"),
        (
            "The recipient's domain publishes a null MX (RFC 7505): it accepts no mail at all. "
            "556 is the reply code for a domain that does not accept mail (RFC 7504).",
            "收件人的域名发布了空 MX 记录（RFC 7505）：它根本不接收邮件。"
            "556 是“该域名不接收邮件”的回复码（RFC 7504）。",
        ),
        (
            "Do not retry: bounce it at once; the address cannot receive mail.",
            "不要重试：立即退信；该地址无法接收邮件。",
        ),
    ),
    _e(
        "2.0",
        (),
        "RFC 3463 §3.3",
        ("Other or undefined mailbox status", "其他或未定义的邮箱状态"),
        (
            "The mailbox exists, but something about it prevents delivery.",
            "邮箱存在，但其某种状况阻止了投递。",
        ),
        (
            "Transient: retry later. Permanent: bounce and let the recipient sort out their "
            "mailbox.",
            "暂时失败则稍后重试；永久失败则退信，由收件人处理其邮箱问题。",
        ),
    ),
    _e(
        "2.1",
        (),
        "RFC 3463 §3.3",
        ("Mailbox disabled, not accepting messages", "邮箱已停用，不接收邮件"),
        (
            "The mailbox exists but is disabled, e.g. a suspended or closed account.",
            "邮箱存在但已被停用，例如账户被暂停或关闭。",
        ),
        (
            "Bounce it (5.2.1) or retry later (4.2.1); the recipient must re-enable the mailbox.",
            "5.2.1 时退信，4.2.1 时稍后重试；需要收件人重新启用邮箱。",
        ),
    ),
    _e(
        "2.2",
        (552,),
        "RFC 3463 §3.3",
        ("Mailbox full", "邮箱已满"),
        (
            "The recipient's mailbox is over its quota.",
            "收件人的邮箱超出了配额。",
        ),
        (
            "Usually transient: keep the message queued and retry later, once the recipient "
            "has made room; bounce when the queue lifetime runs out.",
            "通常是暂时的：把邮件留在队列中，等收件人清理空间后重试；超过队列期限再退信。",
        ),
    ),
    _e(
        "2.3",
        (552,),
        "RFC 3463 §3.3",
        ("Message length exceeds administrative limit", "邮件长度超过管理限制"),
        (
            "The message is larger than this mailbox allows.",
            "邮件大小超过了该邮箱允许的上限。",
        ),
        (
            "Do not resend as is: shrink the message (e.g. link instead of attaching) or "
            "bounce it.",
            "不要原样重发：缩小邮件（例如用链接代替附件），或者退信。",
        ),
    ),
    _e(
        "2.4",
        (450, 452),
        "RFC 3463 §3.3",
        ("Mailing list expansion problem", "邮件列表展开出错"),
        (
            "The address is a mailing list that could not be expanded into its members.",
            "该地址是一个邮件列表，但无法展开为成员地址。",
        ),
        (
            "Retry later if transient; otherwise tell the list's owner.",
            "若是暂时的则稍后重试；否则通知该列表的管理员。",
        ),
    ),
    _e(
        "3.0",
        (221, 250, 421, 451, 550, 554),
        "RFC 3463 §3.4",
        ("Other or undefined mail system status", "其他或未定义的邮件系统状态"),
        (
            "The receiving system has a problem unrelated to the message or its addresses.",
            "接收方系统出了与邮件及其地址无关的问题。",
        ),
        (
            "Transient: retry later, maybe through another MX. Permanent: bounce and contact "
            "the receiving site.",
            "暂时失败则稍后重试，可换用其他 MX；永久失败则退信并联系接收方站点。",
        ),
    ),
    _e(
        "3.1",
        (452,),
        "RFC 3463 §3.4",
        ("Mail system full", "邮件系统已满"),
        (
            "The receiving system is out of storage (not one mailbox's quota).",
            "接收方系统存储空间不足（不是某个邮箱的配额问题）。",
        ),
        (
            "Retry later; the message is still the client's (RFC 5321 §4.5.3.1.10, RFC 1870).",
            "稍后重试；邮件仍由客户端负责（RFC 5321 §4.5.3.1.10、RFC 1870）。",
        ),
    ),
    _e(
        "3.2",
        (453, 521),
        "RFC 3463 §3.4; RFC 7504",
        ("System not accepting network messages", "系统不接收网络邮件"),
        (
            "The host is not accepting mail: for now (453, e.g. it is shutting down), or at all "
            "(521, a host that accepts no mail, RFC 7504).",
            "该主机不接收邮件：暂时不接收（453，例如正在关机），"
            "或根本不接收（521，不接收邮件的主机，RFC 7504）。",
        ),
        (
            "4.3.2: retry later or use another MX host. 5.3.2: do not retry this host.",
            "4.3.2：稍后重试，或改用其他 MX 主机。5.3.2：不要再向该主机重试。",
        ),
    ),
    _e(
        "3.3",
        (),
        "RFC 3463 §3.4",
        ("System not capable of selected features", "系统不支持所选功能"),
        (
            "The message needs a feature (e.g. an extension) the receiving system lacks.",
            "邮件需要某项接收方系统不具备的功能（例如某个扩展）。",
        ),
        (
            "Resend without the feature, or deliver through a system that has it.",
            "去掉该功能后重发，或者通过支持它的系统投递。",
        ),
    ),
    _e(
        "3.4",
        (552, 554),
        "RFC 3463 §3.4",
        ("Message too big for system", "邮件超出系统大小限制"),
        (
            "The message is larger than the whole system accepts (its SIZE limit, RFC 1870).",
            "邮件超过了整个系统可接受的大小（其 SIZE 上限，RFC 1870）。",
        ),
        (
            "Check the SIZE advertised in EHLO before sending; shrink the message or bounce it.",
            "发送前先查看 EHLO 中通告的 SIZE；缩小邮件或退信。",
        ),
    ),
    _e(
        "3.5",
        (),
        "RFC 3463 §3.4",
        ("System incorrectly configured", "系统配置错误"),
        (
            "The receiving system is misconfigured and cannot deliver.",
            "接收方系统配置有误，无法完成投递。",
        ),
        (
            "Nothing the client can fix: retry later, and tell the receiving site's "
            "postmaster if it persists.",
            "客户端无法修复：稍后重试，若持续出现则通知接收方的邮件管理员。",
        ),
    ),
    _e(
        "3.6",
        (250, 251),
        "RFC 6710",
        ("Requested priority was changed", "请求的优先级已被更改"),
        (
            "The message was accepted, but not at the MT-PRIORITY asked for (or implied); the "
            "reply text starts with the priority used.",
            "邮件已被接受，但没有按所请求（或默认）的 MT-PRIORITY 优先级处理；"
            "回复文字以实际采用的优先级开头。",
        ),
        (
            "Nothing to resend; read the new priority from the reply text if it matters.",
            "无需重发；如有需要，从回复文字中读取新的优先级。",
        ),
    ),
    _e(
        "4.0",
        (),
        "RFC 3463 §3.5",
        ("Other or undefined network or routing status", "其他或未定义的网络或路由状态"),
        (
            "Something went wrong on the network or in routing the message onward.",
            "网络或继续转发邮件的路由环节出了问题。",
        ),
        (
            "Usually transient: retry later.",
            "通常是暂时的：稍后重试。",
        ),
    ),
    _e(
        "4.1",
        (451,),
        "RFC 3463 §3.5",
        ("No answer from host", "主机无应答"),
        (
            "The next host on the route did not answer (connection timed out).",
            "路由中的下一台主机没有应答（连接超时）。",
        ),
        (
            "Retry later; the message is not lost, only delayed.",
            "稍后重试；邮件没有丢失，只是延迟了。",
        ),
    ),
    _e(
        "4.2",
        (421,),
        "RFC 3463 §3.5",
        ("Bad connection", "连接异常"),
        (
            "The connection was dropped or broke during the transaction.",
            "连接在事务进行中被断开或出错。",
        ),
        (
            "Retry later; anything without its final 250 is still the client's to deliver.",
            "稍后重试；凡是没有收到最终 250 的邮件，仍由客户端负责投递。",
        ),
    ),
    _e(
        "4.3",
        (451, 550),
        "RFC 3463 §3.5",
        ("Directory server failure", "目录服务器故障"),
        (
            "A lookup the server needs failed, e.g. DNS or an LDAP directory.",
            "服务器需要的查询失败了，例如 DNS 或 LDAP 目录。",
        ),
        (
            "Retry later (4.4.3); with 5.4.3 check the DNS of the domains involved.",
            "4.4.3 时稍后重试；5.4.3 时检查相关域名的 DNS。",
        ),
    ),
    _e(
        "4.4",
        (),
        "RFC 3463 §3.5",
        ("Unable to route", "无法路由"),
        (
            "No route to the destination could be found, e.g. no MX and no A record.",
            "找不到通往目标的路由，例如既没有 MX 也没有 A 记录。",
        ),
        (
            "Check the recipient's domain and its DNS; bounce if it stays unroutable.",
            "检查收件人域名及其 DNS；若一直无法路由则退信。",
        ),
    ),
    _e(
        "4.5",
        (451,),
        "RFC 3463 §3.5",
        ("Mail system congestion", "邮件系统拥塞"),
        (
            "The receiving system is overloaded for now.",
            "接收方系统暂时负载过高。",
        ),
        (
            "Back off and retry later with increasing delays; do not hammer the server.",
            "退避后稍后重试，并逐步加大间隔；不要反复猛发请求。",
        ),
    ),
    _e(
        "4.6",
        (),
        "RFC 3463 §3.5",
        ("Routing loop detected", "检测到路由环路"),
        (
            "The message has passed the same hosts too often (too many Received: lines).",
            "邮件经过同一批主机的次数过多（Received: 头过多）。",
        ),
        (
            "Bounce it; the forwarding configuration of the domains involved must be fixed.",
            "退信；需要修正相关域名的转发配置。",
        ),
    ),
    _e(
        "4.7",
        (),
        "RFC 3463 §3.5",
        ("Delivery time expired", "投递超时"),
        (
            "The message sat in a queue longer than allowed and was given up.",
            "邮件在队列中停留的时间超过上限，已被放弃。",
        ),
        (
            "Tell the sender it was not delivered; resend it if it still matters.",
            "告知发件人邮件未送达；如果仍然需要，请重新发送。",
        ),
    ),
    _e(
        "5.0",
        (220, 250, 251, 252, 253, 451, 452, 454, 458, 459, 501, 502, 503, 554),
        "RFC 3463 §3.6",
        ("Other or undefined protocol status", "其他或未定义的协议状态"),
        (
            "Something in the SMTP dialogue went wrong, with no more specific code.",
            "SMTP 对话中出了问题，但没有更具体的代码。",
        ),
        (
            "Read the reply text and the transcript; act on the class digit.",
            "阅读回复文字和会话记录；按类别数字处理。",
        ),
    ),
    _e(
        "5.1",
        (430, 500, 501, 503, 530, 550, 554, 555),
        "RFC 3463 §3.6",
        ("Invalid command", "无效命令"),
        (
            "The command is not valid here: unknown, or out of sequence (the 503 bad-sequence "
            "code, RFC 2034).",
            "该命令在此处无效：命令未知，或者顺序错误（即 503 命令顺序错误所用的代码，RFC 2034）。",
        ),
        (
            "Fix the client's command order: EHLO/HELO, MAIL FROM, RCPT TO, DATA; RSET to start "
            "over.",
            "修正客户端的命令顺序：EHLO/HELO、MAIL FROM、RCPT TO、DATA；需要重来时发送 RSET。",
        ),
    ),
    _e(
        "5.2",
        (500, 501, 502, 550, 555),
        "RFC 3463 §3.6",
        ("Syntax error", "语法错误"),
        (
            "The command line could not be parsed.",
            "无法解析该命令行。",
        ),
        (
            "Fix the command's syntax; resending the same line fails again.",
            "修正命令语法；原样重发同一行仍会失败。",
        ),
    ),
    _e(
        "5.3",
        (451,),
        "RFC 3463 §3.6",
        ("Too many recipients", "收件人过多"),
        (
            "More recipients than the server takes in one transaction (RFC 5321 §4.5.3.1.10).",
            "收件人数量超过了服务器在一次事务中接受的上限（RFC 5321 §4.5.3.1.10）。",
        ),
        (
            "Deliver to the recipients already accepted, then send the rest in another "
            "transaction.",
            "先投递已被接受的收件人，再在新的事务中发送其余收件人。",
        ),
    ),
    _e(
        "5.4",
        (451, 501, 502, 503, 504, 550, 555),
        "RFC 3463 §3.6",
        ("Invalid command arguments", "命令参数无效"),
        (
            "The command is valid but an argument or parameter is not (e.g. an unknown ESMTP "
            "parameter or SASL mechanism).",
            "命令本身有效，但某个参数无效（例如未知的 ESMTP 参数或 SASL 机制）。",
        ),
        (
            "Send only parameters and mechanisms the EHLO reply advertised.",
            "只发送 EHLO 回复中通告过的参数和机制。",
        ),
    ),
    _e(
        "5.5",
        (),
        "RFC 3463 §3.6",
        ("Wrong protocol version", "协议版本错误"),
        (
            "The two sides do not speak compatible protocol versions.",
            "双方使用的协议版本不兼容。",
        ),
        (
            "Check the client's protocol settings (e.g. EHLO against an old server); use "
            "another server if needed.",
            "检查客户端的协议设置（例如对旧服务器使用了 EHLO）；必要时改用其他服务器。",
        ),
    ),
    _e(
        "5.6",
        (500,),
        "RFC 4954 §6",
        ("Authentication exchange line is too long", "认证交换行过长"),
        (
            "A line of the AUTH exchange exceeded the server's limit.",
            "AUTH 交换中的某一行超过了服务器的长度限制。",
        ),
        (
            "Use the initial-response form less, or a mechanism with shorter messages.",
            "少用初始响应形式，或改用消息更短的认证机制。",
        ),
    ),
    _e(
        "6.0",
        (),
        "RFC 3463 §3.7",
        ("Other or undefined media error", "其他或未定义的媒体错误"),
        (
            "Something about the message content prevents delivery.",
            "邮件内容的某些方面阻止了投递。",
        ),
        (
            "Check the message's format and encoding; do not resend unchanged.",
            "检查邮件的格式与编码；不要原样重发。",
        ),
    ),
    _e(
        "6.1",
        (),
        "RFC 3463 §3.7",
        ("Media not supported", "不支持的媒体类型"),
        (
            "The destination cannot handle a media type in the message.",
            "目标系统无法处理邮件中的某种媒体类型。",
        ),
        (
            "Send it in a more common format (e.g. plain text or standard MIME).",
            "改用更常见的格式发送（例如纯文本或标准 MIME）。",
        ),
    ),
    _e(
        "6.2",
        (),
        "RFC 3463 §3.7",
        ("Conversion required and prohibited", "需要转换但被禁止"),
        (
            "Delivery would need a content conversion that the message forbids.",
            "投递需要对内容进行转换，但该邮件禁止转换。",
        ),
        (
            "Send content the path can carry unconverted (e.g. 7-bit safe encodings).",
            "发送无需转换即可传输的内容（例如 7 位安全编码）。",
        ),
    ),
    _e(
        "6.3",
        (554,),
        "RFC 3463 §3.7",
        ("Conversion required but not supported", "需要转换但不支持"),
        (
            "Delivery would need a conversion the server cannot do (e.g. 8-bit to 7-bit).",
            "投递需要进行服务器无法完成的转换（例如 8 位转 7 位）。",
        ),
        (
            "Encode the message for the path (quoted-printable or base64) before sending.",
            "发送前按传输路径对邮件进行编码（quoted-printable 或 base64）。",
        ),
    ),
    _e(
        "6.4",
        (250,),
        "RFC 3463 §3.7",
        ("Conversion with loss performed", "已进行有损转换"),
        (
            "The message was delivered, but converting it lost some content.",
            "邮件已投递，但转换过程中丢失了部分内容。",
        ),
        (
            "Nothing to resend; send a format that needs no conversion next time.",
            "无需重发；下次改用无需转换的格式。",
        ),
    ),
    _e(
        "6.5",
        (),
        "RFC 3463 §3.7",
        ("Conversion failed", "转换失败"),
        (
            "A needed content conversion failed.",
            "所需的内容转换失败了。",
        ),
        (
            "Retry later if transient; otherwise send the content in another format.",
            "若是暂时的则稍后重试；否则改用其他格式发送内容。",
        ),
    ),
    _e(
        "6.6",
        (554,),
        "RFC 4468 §5",
        ("Message content not available", "邮件内容不可用"),
        (
            "The content referenced by BURL could not be fetched from the IMAP server.",
            "无法从 IMAP 服务器取得 BURL 所引用的内容。",
        ),
        (
            "Check the BURL URL and its authorization, or send the content with DATA.",
            "检查 BURL 的 URL 及其授权，或改用 DATA 直接发送内容。",
        ),
    ),
    _e(
        "6.7",
        (553, 550),
        "RFC 6531",
        (
            "Non-ASCII addresses not permitted for that sender/recipient",
            "该发件人/收件人不允许使用非 ASCII 地址",
        ),
        (
            "A MAIL or RCPT with a non-ASCII (UTF-8) address where none is permitted, e.g. "
            "without SMTPUTF8 on the transaction.",
            "MAIL 或 RCPT 中出现了不允许的非 ASCII（UTF-8）地址，例如该事务没有使用 SMTPUTF8。",
        ),
        (
            "Put SMTPUTF8 on MAIL when the server advertises it, or use an ASCII address; do not "
            "retry unchanged.",
            "服务器通告了 SMTPUTF8 时在 MAIL 上带上 SMTPUTF8 参数，否则改用 ASCII 地址；"
            "不要原样重试。",
        ),
    ),
    _e(
        "6.8",
        (252, 553, 550),
        "RFC 6531",
        (
            "UTF-8 string reply is required, but not permitted by the SMTP client",
            "需要 UTF-8 字符串回复，但 SMTP 客户端不允许",
        ),
        (
            "The reply would have to show a mailbox name in UTF-8, but the client did not "
            "allow UTF-8 in replies.",
            "回复需要用 UTF-8 显示邮箱名，但客户端没有允许回复中使用 UTF-8。",
        ),
        (
            "Repeat the command with the SMTPUTF8 parameter if the client can read UTF-8 replies.",
            "如果客户端能读取 UTF-8 回复，带上 SMTPUTF8 参数重发该命令。",
        ),
    ),
    _e(
        "6.9",
        (550,),
        "RFC 6531",
        (
            "UTF-8 header message cannot be transferred to one or more recipients, so the "
            "message must be rejected",
            "含 UTF-8 头部的邮件无法传送给一个或多个收件人，因此必须拒收",
        ),
        (
            "Sent after the final '.' of DATA: the message has UTF-8 header fields that cannot "
            "reach some recipient.",
            "在 DATA 的结束符“.”之后发出：邮件含有 UTF-8 头部字段，无法送达某个收件人。",
        ),
        (
            "Bounce it, or resend it to those recipients with ASCII-only header fields.",
            "退信，或者对这些收件人改用只含 ASCII 的头部字段重发。",
        ),
    ),
    _e(
        "6.10",
        (),
        "RFC 6531",
        ("Duplicate of X.6.8 (deprecated)", "X.6.8 的重复项（已弃用）"),
        (
            "Registered with RFC 6531, then marked in the registry as a duplicate of X.6.8 and "
            "deprecated; it has no sample text.",
            "随 RFC 6531 注册，后在注册表中被标记为 X.6.8 的重复项并弃用；它没有示例文字。",
        ),
        (
            "Treat it as X.6.8; a server should send X.6.8 instead.",
            "按 X.6.8 处理；服务器应改发 X.6.8。",
        ),
    ),
    _e(
        "7.0",
        (220, 235, 450, 454, 500, 501, 503, 504, 530, 535, 550),
        "RFC 3463 §3.8",
        ("Other or undefined security status", "其他或未定义的安全状态"),
        (
            "A security or policy check failed, with no more specific code.",
            "某项安全或策略检查未通过，但没有更具体的代码。",
        ),
        (
            "Read the reply text; the site's policy decides what is needed.",
            "阅读回复文字；需要做什么取决于该站点的策略。",
        ),
    ),
    _e(
        "7.1",
        (451, 454, 502, 503, 533, 550, 551),
        "RFC 3463 §3.8",
        ("Delivery not authorized, message refused", "未获投递授权，邮件被拒绝"),
        (
            "The sender is not allowed to send to this recipient: relaying denied, a "
            "blocklist or another policy. 4.7.1 is the common greylisting reply (RFC 6647).",
            "发件人无权向该收件人发信：拒绝中继、被列入黑名单或其他策略。"
            "4.7.1 是常见的灰名单回复（RFC 6647）。",
        ),
        (
            "4.7.1: retry later from the same host (greylisting accepts the retry). 5.7.1: do "
            "not retry unchanged; authenticate, use the right relay, or ask the site why.",
            "4.7.1：稍后从同一主机重试（灰名单会接受重试）。5.7.1：不要原样重试；先认证、改用正确的中继，或询问对方站点原因。",
        ),
    ),
    _e(
        "7.2",
        (550,),
        "RFC 3463 §3.8",
        ("Mailing list expansion prohibited", "禁止展开邮件列表"),
        (
            "The sender may not post to this mailing list.",
            "发件人无权向该邮件列表投递。",
        ),
        (
            "Ask the list's owner for permission to post.",
            "请向该列表的管理员申请投递权限。",
        ),
    ),
    _e(
        "7.3",
        (),
        "RFC 3463 §3.8",
        ("Security conversion required but not possible", "需要安全转换但无法进行"),
        (
            "The message needs a security conversion (e.g. re-encryption) that cannot be done.",
            "邮件需要进行安全转换（例如重新加密），但无法完成。",
        ),
        (
            "Send the message in a form the destination can accept as is.",
            "改用目标系统可以直接接受的形式发送。",
        ),
    ),
    _e(
        "7.4",
        (504,),
        "RFC 3463 §3.8",
        ("Security features not supported", "不支持该安全功能"),
        (
            "A requested security feature (e.g. an AUTH mechanism) is not supported.",
            "所请求的安全功能（例如某种 AUTH 机制）不受支持。",
        ),
        (
            "Use a mechanism from the EHLO AUTH line.",
            "改用 EHLO 的 AUTH 行中列出的机制。",
        ),
    ),
    _e(
        "7.5",
        (),
        "RFC 3463 §3.8",
        ("Cryptographic failure", "加密操作失败"),
        (
            "A cryptographic operation on the message failed (e.g. it could not be decrypted).",
            "对邮件进行的加密操作失败（例如无法解密）。",
        ),
        (
            "Check the keys and certificates used; resend once they are right.",
            "检查所用的密钥和证书；修正后再重发。",
        ),
    ),
    _e(
        "7.6",
        (),
        "RFC 3463 §3.8",
        ("Cryptographic algorithm not supported", "不支持该加密算法"),
        (
            "The message uses a cryptographic algorithm the destination does not support.",
            "邮件使用了目标系统不支持的加密算法。",
        ),
        (
            "Use an algorithm both sides support.",
            "改用双方都支持的算法。",
        ),
    ),
    _e(
        "7.7",
        (),
        "RFC 3463 §3.8",
        ("Message integrity failure", "邮件完整性校验失败"),
        (
            "The message's integrity check failed: it was changed in transit or badly signed.",
            "邮件的完整性校验未通过：传输中被改动，或签名有误。",
        ),
        (
            "Check the signing setup and anything that rewrites the message in transit.",
            "检查签名配置，以及传输途中会改写邮件的环节。",
        ),
    ),
    _e(
        "7.8",
        (535, 554),
        "RFC 4954 §6",
        ("Authentication credentials invalid", "认证凭据无效"),
        (
            "AUTH failed: the user name or password is wrong.",
            "AUTH 失败：用户名或密码错误。",
        ),
        (
            "Ask for new credentials; never retry the same password in a loop.",
            "重新获取凭据；不要用同一密码反复重试。",
        ),
    ),
    _e(
        "7.9",
        (534,),
        "RFC 4954 §6",
        ("Authentication mechanism is too weak", "认证机制强度不足"),
        (
            "The chosen SASL mechanism is weaker than the server's policy allows.",
            "所选的 SASL 机制强度低于服务器策略的要求。",
        ),
        (
            "Use a stronger advertised mechanism, e.g. after STARTTLS.",
            "改用服务器通告的更强机制，例如在 STARTTLS 之后。",
        ),
    ),
    _e(
        "7.10",
        (523,),
        "RFC 5248 §2.4",
        ("Encryption needed", "需要加密"),
        (
            "A privacy layer such as TLS is needed to use the requested authentication "
            "mechanism (meant for clear-text mechanisms).",
            "使用所请求的认证机制之前需要 TLS 之类的加密层（针对明文认证机制）。",
        ),
        (
            "Start TLS before authenticating, or use a stronger mechanism.",
            "先启用 TLS 再认证，或改用更强的机制。",
        ),
    ),
    _e(
        "7.11",
        (524, 538),
        "RFC 4954 §6",
        ("Encryption required for requested authentication mechanism", "所请求的认证机制要求加密"),
        (
            "This SASL mechanism may only be used over an encrypted connection.",
            "该 SASL 机制只能在加密连接上使用。",
        ),
        (
            "Send STARTTLS, EHLO again, then AUTH.",
            "先发送 STARTTLS，再次发送 EHLO，然后再 AUTH。",
        ),
    ),
    _e(
        "7.12",
        (422, 432),
        "RFC 4954 §6",
        ("A password transition is needed", "需要进行密码迁移"),
        (
            "The user must authenticate once with PLAIN (over TLS) so the server can move the "
            "password to the chosen mechanism.",
            "用户需要先用 PLAIN（在 TLS 上）认证一次，服务器才能把密码迁移到所选机制。",
        ),
        (
            "Authenticate once with PLAIN over TLS; the chosen mechanism then works.",
            "先在 TLS 上用 PLAIN 认证一次，之后所选机制即可使用。",
        ),
    ),
    _e(
        "7.13",
        (525,),
        "RFC 5248 §2.4",
        ("User account disabled", "用户账户已停用"),
        (
            "Authentication succeeded, but the account is disabled (unpaid, abuse, break-in).",
            "认证成功了，但该账户已被停用（欠费、滥用或疑似入侵）。",
        ),
        (
            "Do not ask for the password again: the user must contact the administrator.",
            "不要再次索要密码：用户需要联系系统管理员。",
        ),
    ),
    _e(
        "7.14",
        (535, 554),
        "RFC 5248 §2.4",
        ("Trust relationship required", "需要信任关系"),
        (
            "The submission server needs a configured trust relationship with a third-party "
            "server to fetch the message content (replaces X.7.8 for this case, RFC 4468).",
            "提交服务器需要与第三方服务器预先配置信任关系才能取得邮件内容"
            "（此情形取代 X.7.8，RFC 4468）。",
        ),
        (
            "Ask the administrators to set up the trust, or send the content with DATA.",
            "请管理员配置信任关系，或改用 DATA 直接发送内容。",
        ),
    ),
    _e(
        "7.15",
        (450, 550),
        "RFC 6710",
        ("Priority Level is too low", "优先级过低"),
        (
            "The MT-PRIORITY level is below the lowest the server accepts, perhaps only for "
            "now (it may take only higher-priority mail for a while).",
            "MT-PRIORITY 优先级低于服务器接受的最低级别，可能只是暂时的"
            "（它可能暂时只接收更高优先级的邮件）。",
        ),
        (
            "4.7.15: retry later. 5.7.15: resend with a higher priority, if the sender may "
            "use one.",
            "4.7.15：稍后重试。5.7.15：如果发件人有权使用，改用更高的优先级重发。",
        ),
        any_of_class=(4, 5),
    ),
    _e(
        "7.16",
        (552,),
        "RFC 6710",
        ("Message is too big for the specified priority", "邮件对于指定的优先级过大"),
        (
            "At this MT-PRIORITY level the server takes only smaller messages, perhaps only "
            "for now.",
            "在该 MT-PRIORITY 优先级下，服务器只接收更小的邮件，可能只是暂时的。",
        ),
        (
            "4.7.16: retry later. 5.7.16: resend it smaller or at a lower priority.",
            "4.7.16：稍后重试。5.7.16：缩小邮件或降低优先级后重发。",
        ),
        any_of_class=(4, 5),
    ),
    _e(
        "7.17",
        (),
        "RFC 7293",
        ("Mailbox owner has changed", "邮箱所有者已变更"),
        (
            "The message asked for RRVS (Require-Recipient-Valid-Since) and the mailbox has "
            "not been owned by the same person since that date.",
            "邮件要求了 RRVS（Require-Recipient-Valid-Since），"
            "而该邮箱自那一日期以来并非一直属于同一人。",
        ),
        (
            "Do not resend: the address now belongs to someone else; update or remove it.",
            "不要重发：该地址现在属于他人；请更新或删除它。",
        ),
        any_of_class=(5,),
    ),
    _e(
        "7.18",
        (),
        "RFC 7293",
        ("Domain owner has changed", "域名所有者已变更"),
        (
            "The message asked for RRVS and the recipient's domain has changed owner since "
            "the given date.",
            "邮件要求了 RRVS，而收件人的域名自指定日期以来已更换所有者。",
        ),
        (
            "Do not resend: first find out whether the address still reaches the recipient.",
            "不要重发：先确认该地址是否仍能送达收件人。",
        ),
        any_of_class=(5,),
    ),
    _e(
        "7.19",
        (),
        "RFC 7293",
        ("RRVS test cannot be completed", "无法完成 RRVS 检查"),
        (
            "The message asked for RRVS, but the server did not record the date it needs, so "
            "it cannot check it.",
            "邮件要求了 RRVS，但服务器没有记录检查所需的日期，因此无法核对。",
        ),
        (
            "The sender decides whether to resend without RRVS protection.",
            "由发件人决定是否在不带 RRVS 保护的情况下重发。",
        ),
        any_of_class=(5,),
    ),
    _e(
        "7.20",
        (550,),
        "RFC 7372; RFC 6376",
        ("No passing DKIM signature found", "未找到通过验证的 DKIM 签名"),
        (
            "No DKIM signature of the message verified, and the receiver's policy requires one.",
            "邮件没有任何通过验证的 DKIM 签名，而接收方的策略要求有。",
        ),
        (
            "Sign the message with DKIM and keep it unchanged in transit; do not resend as is.",
            "用 DKIM 为邮件签名，并确保传输中不被改动；不要原样重发。",
        ),
    ),
    _e(
        "7.21",
        (550,),
        "RFC 7372; RFC 6376",
        ("No acceptable DKIM signature found", "未找到可接受的 DKIM 签名"),
        (
            "DKIM signatures verified, but none is acceptable to the receiver (e.g. from a "
            "signing domain it does not accept).",
            "有 DKIM 签名通过了验证，但没有一个能被接收方接受（例如签名域不被接受）。",
        ),
        (
            "Sign with a domain the receiver accepts, usually the one in From.",
            "改用接收方接受的域名签名，通常是 From 中的域名。",
        ),
    ),
    _e(
        "7.22",
        (550,),
        "RFC 7372; RFC 6376",
        ("No valid author-matched DKIM signature found", "未找到与作者匹配的有效 DKIM 签名"),
        (
            "DKIM signatures verified, but none is from the domain of the From address (a "
            "special case of X.7.21).",
            "有 DKIM 签名通过了验证，但没有一个来自 From 地址的域名（X.7.21 的特例）。",
        ),
        (
            "Sign with the domain of the From address.",
            "用 From 地址的域名签名。",
        ),
    ),
    _e(
        "7.23",
        (550,),
        "RFC 7372; RFC 7208 §8.4",
        ("SPF validation failed", "SPF 验证失败"),
        (
            'The SPF check gave "fail": the sender\'s domain does not authorize the sending '
            "host. Used instead of 5.7.1.",
            "SPF 检查结果为 “fail”：发件域名没有授权该发信主机。用于取代 5.7.1。",
        ),
        (
            "Send through a host that the domain's SPF record lists, or fix the record.",
            "通过该域名 SPF 记录中列出的主机发送，或修正 SPF 记录。",
        ),
    ),
    _e(
        "7.24",
        (451, 550),
        "RFC 7372; RFC 7208 §8.6, §8.7",
        ("SPF validation error", "SPF 验证出错"),
        (
            "Evaluating SPF ended in an error (e.g. a DNS failure or a broken record). Used "
            "instead of 4.4.3 or 5.5.2.",
            "SPF 评估出错（例如 DNS 故障或记录有误）。用于取代 4.4.3 或 5.5.2。",
        ),
        (
            "4.7.24: a temporary error, retry later. 5.7.24: fix the sender domain's SPF record.",
            "4.7.24：暂时的错误，稍后重试。5.7.24：修正发件域名的 SPF 记录。",
        ),
    ),
    _e(
        "7.25",
        (550,),
        "RFC 7372; RFC 7601",
        ("Reverse DNS validation failed", "反向 DNS 验证失败"),
        (
            "The client's IP address failed the receiver's reverse DNS check.",
            "客户端的 IP 地址未通过接收方的反向 DNS 检查。",
        ),
        (
            "Give the sending IP address a PTR record whose name resolves back to it.",
            "为发信 IP 地址配置 PTR 记录，并使该名称能解析回同一地址。",
        ),
    ),
    _e(
        "7.26",
        (550,),
        "RFC 7372",
        ("Multiple authentication checks failed", "多项认证检查失败"),
        (
            "The message failed more than one authentication check; which ones is not said.",
            "邮件未通过多项认证检查；未说明是哪些。",
        ),
        (
            "Check the sending domain's SPF, DKIM and DMARC set-up.",
            "检查发件域名的 SPF、DKIM 和 DMARC 配置。",
        ),
    ),
    _e(
        "7.27",
        (550,),
        "RFC 7505",
        ("Sender address has null MX", "发件人地址的域名使用空 MX"),
        (
            "The sender's domain publishes a null MX, so it could not receive a bounce; the "
            "receiver refuses mail from such senders.",
            "发件人的域名发布了空 MX 记录，无法接收退信；接收方拒收此类发件人的邮件。",
        ),
        (
            "Use a sender address whose domain accepts mail.",
            "改用其域名能接收邮件的发件人地址。",
        ),
    ),
    _e(
        "7.28",
        (),
        "draft-levine-mailbomb-header (an Internet-Draft)",
        ("Mail flood detected", "检测到邮件洪泛"),
        (
            "The message appears to be part of a flood of similar abusive messages.",
            "该邮件似乎属于大量相似滥用邮件（邮件洪泛）的一部分。",
        ),
        (
            "Stop sending such mail and find what generates it (e.g. a web form abused to "
            "mail-bomb someone).",
            "停止发送此类邮件并查明其来源（例如被滥用来进行邮件轰炸的网页表单）。",
        ),
    ),
)

ENHANCED_CODES: Final[Mapping[str, EnhancedCode]] = MappingProxyType({e.key: e for e in _CODES})
if len(ENHANCED_CODES) != len(_CODES):  # a duplicate would silently shadow an entry
    raise AssertionError("duplicate enhanced status code in the table")

# RFC 3463 §2: class "." subject "." detail; subject and detail 1-3 digits, each "expressed
# without leading zero digits"
_SHAPE = re.compile(r"([245])\.(0|[1-9][0-9]{0,2})\.(0|[1-9][0-9]{0,2})")
# the same with leading zeros, to say what is wrong with 4.04.1
_ZERO_PADDED = re.compile(r"([245])\.([0-9]{1,3})\.([0-9]{1,3})")


def parse_enhanced(text: str) -> tuple[int, int, int] | None:
    """``"5.7.1"`` -> (5, 7, 1); None unless it has the RFC 3463 shape with class 2, 4 or 5
    (``"4.04.1"`` is not: a sub-code has no leading zero)."""
    m = _SHAPE.fullmatch(text.strip())
    if m is None:
        return None
    klass, subject, detail = (int(g) for g in m.groups())
    return klass, subject, detail


def unpadded(text: str) -> str | None:
    """``"4.04.1"`` -> ``"4.4.1"``: the code meant, when ``text`` is an enhanced status code but
    for leading zeros in its sub-codes; else None."""
    m = _ZERO_PADDED.fullmatch(text.strip())
    if m is None or parse_enhanced(text) is not None:
        return None
    return ".".join(str(int(g)) for g in m.groups())
