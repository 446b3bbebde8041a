"""The pages' words, in Turkish and English. Both languages have the same keys (a test says so).

Refusals say what happened and what to do, for the person holding the phone: a member of
staff on the acknowledge page, a customer on the call-back page.
"""

from __future__ import annotations

import hashlib

TEXT: dict[str, dict] = {
    "tr": {
        "language_name": "Türkçe",
        "date_format": "%d.%m.%Y %H:%M",
        "alert": "Uyarı",
        "kinds": {
            "help": "Bir müşteri yardım istiyor",
            "response": "Olumsuz geri bildirim",
            "window": "Memnuniyet düştü",
            "offline": "Kiosk sessiz",
            "health": "Kiosk bakım istiyor",
        },
        "labels": {"site": "Yer", "kiosk": "Kiosk", "time": "Zaman", "answers": "Yanıtlar", "asked": "Müşterinin isteği", "state": "Durum", "what": "Ne oldu"},
        "asked_help": "Bir çalışanın yanına gelmesini istedi; kioskun yanında bekliyor.",
        "asked_nothing": "Yardım istemedi (yalnızca olumsuz yanıt verdi).",
        "window": "Son {minutes:g} dakikada {total} yanıtın {negative} tanesi olumsuz (%{percent}).",
        "offline": "{minutes:g} dakikadan uzun süredir ses yok.",
        "health": {"disk": "disk dolmak üzere", "backlog": "gönderilemeyen yanıtlar birikiyor", "refused": "reddedilen yanıtlar var"},
        "states": {
            "open": "Açık: henüz kimse üstlenmedi.",
            "acknowledged": "{by} üstlendi ({time}).",
            "eta": "Tahmini varış: {eta} dakika.",
            "resolved": "Kapandı ({time}). Yapılacak bir şey yok.",
            "expired": "Süresi doldu ({time}): zamanında kimse üstlenmedi.",
        },
        "callback_left": "Müşteri geri aranmak için numarasını bıraktı ({time}); çağrı merkezine iletildi.",
        "ack": {
            "title": "Uyarıyı üstlen",
            "name": "Adınız",
            "eta": "Kaç dakikada oradasınız? (isteğe bağlı)",
            "comment": "Not (isteğe bağlı)",
            "button_help": "Geliyorum",
            "button": "Üstleniyorum",
            "note": "Bu sayfayı açmak hiçbir şeyi değiştirmez. Düğmeye bastığınızda uyarı sizin adınıza üstlenilir.",
            "done_title": "Üstlendiniz",
            "done": "Teşekkürler {name}. Uyarı #{id} {time} itibarıyla sizde.",
            "done_help": "Kioska yolda olduğunuz bildiriliyor; müşteri bunu ekranda görecek.",
            "errors": {
                "name": "Adınızı yazın (en çok 128 karakter).",
                "eta": "Dakikayı 0 ile {max_eta} arasında bir tam sayı olarak yazın ya da boş bırakın.",
                "comment": "Not en çok 500 karakter olabilir.",
            },
        },
        "callback": {
            "title": "Sizi arayalım",
            "intro": "Üzgünüz, {site} çalışanlarımız zamanında yanınıza gelemedi. Numaranızı bırakın, sizi hemen arayalım.",
            "phone": "Telefon numaranız",
            "phone_hint": "ör. 0532 123 45 67 ya da +44 20 7946 0958",
            "notice_title": "Kişisel verileriniz (KVKK aydınlatma metni)",
            "notice": [
                "Veri sorumlusu: {controller}",
                "Telefon numaranızı yalnızca bu geri bildirimle ilgili sizi geri aramak için, açık rızanıza dayanarak kaydederiz.",
                "Saklanan: telefon numaranız, isteğinizin zamanı, kiosk ve verdiğiniz yanıtlar.",
                "Numaranızı yalnızca çağrı merkezimiz görür; {days} gün sonra silinir.",
                "Rızanızı dilediğiniz zaman geri alabilir; verilerinize erişmeyi, düzeltilmesini ya da silinmesini isteyebilirsiniz (KVKK m. 11). "
                "Başvuru: {contact}.",
            ],
            "controller_unknown": "bu yerin işletmecisi",
            "contact_unknown": "bu yerdeki yetkililer",
            "consent": "Aydınlatma metnini okudum; geri aranmayı ve numaramın bu amaçla kaydedilmesini kabul ediyorum.",
            "button": "Beni arayın",
            "done_title": "Numaranızı aldık",
            "done": "Teşekkürler. Sizi {phone} numarasından arayacağız.",
            "done_more": "Çağrı merkezimize haber verildi. Bu sayfayı kapatabilirsiniz.",
            "errors": {
                "empty": "Telefon numaranızı yazın.",
                "too_long": "Bu çok uzun: yalnızca telefon numaranızı yazın.",
                "not_a_number": "Bu bir telefon numarasına benzemiyor: rakam, boşluk ve baştaki + dışında bir şey yazmayın.",
                "country": "Ülke kodu tanınmadı: +44 gibi bir kodla başlayın ya da Türkiye numarası için kodsuz yazın.",
                "too_short": "Numara eksik görünüyor: tüm rakamları yazın (ör. 0532 123 45 67).",
                "too_long_number": "Numarada fazladan rakam var: rakamları kontrol edin.",
                "invalid": "Bu numara kullanılan bir numara değil: rakamları kontrol edin.",
                "consent": "Sizi arayabilmemiz için onay kutusunu işaretleyin.",
            },
        },
        "refused": {
            "ack": {
                "forged": (
                    "Bu bağlantı geçersiz",
                    "Bu bağlantı bu sistemce üretilmemiş ya da değiştirilmiş. Hiçbir şey değişmedi.",
                    "Bildirimdeki bağlantıyı yeniden, eksiksiz açın. Yine olmazsa vardiya sorumlunuza haber verin.",
                ),
                "malformed": (
                    "Bu bağlantı eksik",
                    "Bağlantının bir kısmı kopyalanırken kesilmiş olabilir. Hiçbir şey değişmedi.",
                    "Bildirimdeki bağlantıyı yeniden, eksiksiz açın.",
                ),
                "purpose": ("Bu bağlantı bu sayfa için değil", "Bu bir onay bağlantısı değil. Hiçbir şey değişmedi.", "Bildirimdeki onay bağlantısını açın."),
                "expired": (
                    "Bu bağlantının süresi doldu",
                    "Onay bağlantıları gönderildikten sonra sınırlı bir süre çalışır. Hiçbir şey değişmedi.",
                    "Uyarı hâlâ açıksa en yeni bildirimdeki bağlantıyı kullanın ya da vardiya sorumlunuza sorun.",
                ),
                "used": ("Bu bağlantı zaten kullanıldı", "Her onay bağlantısı yalnızca bir kez çalışır. Hiçbir şey değişmedi.", "Yapılacak bir şey yok."),
                "cross_site": (
                    "Bu form başka bir siteden gönderildi",
                    "Form bu sayfadan gönderilmedi. Hiçbir şey değişmedi.",
                    "Bildirimdeki bağlantıyı doğrudan açıp formu oradan gönderin.",
                ),
                "missing": ("Uyarı bulunamadı", "Bu bağlantının uyarısı artık kayıtlı değil. Hiçbir şey değişmedi.", "Vardiya sorumlunuza sorun."),
                "state": ("Bu uyarı artık üstlenilemez", "Hiçbir şey değişmedi.", "Yapılacak bir şey yok."),
            },
            "callback": {
                "forged": (
                    "Bu kod geçersiz",
                    "Bu bağlantı bu sistemce üretilmemiş ya da değiştirilmiş.",
                    "Kiosktaki kodu yeniden okutun ya da bir çalışana başvurun.",
                ),
                "malformed": ("Bu kod eksik okundu", "Bağlantının bir kısmı eksik.", "Kiosktaki kodu yeniden okutun."),
                "purpose": ("Bu bağlantı bu sayfa için değil", "Bu bir geri arama bağlantısı değil.", "Kiosktaki kodu okutun."),
                "expired": ("Bu kodun süresi doldu", "Geri arama kodları kısa bir süre çalışır.", "Kiosktan yeni bir kod okutun ya da bir çalışana başvurun."),
                "used": (
                    "Numaranızı zaten aldık",
                    "Bu kodla bir numara zaten bırakıldı; sizi arayacağız.",
                    "Başka bir numara vermek isterseniz bir çalışana başvurun.",
                ),
                "cross_site": (
                    "Bu form başka bir siteden gönderildi",
                    "Form bu sayfadan gönderilmedi; numaranız kaydedilmedi.",
                    "Kiosktaki kodu okutup formu oradan gönderin.",
                ),
                "missing": ("İstek bulunamadı", "Bu koda ait kayıt artık yok.", "Bir çalışana başvurun."),
            },
            "too_many": ("Çok fazla istek", "Bu adresten kısa sürede çok fazla istek geldi. Hiçbir şey değişmedi.", "Bir dakika bekleyip yeniden deneyin."),
            "not_found": ("Sayfa bulunamadı", "Böyle bir sayfa yok.", "Bildirimdeki ya da kiosktaki bağlantıyı açın."),
            "error": ("Bir şeyler ters gitti", "İsteğiniz tamamlanamadı.", "Biraz sonra yeniden deneyin; sürerse vardiya sorumlunuza haber verin."),
        },
        "fix": "Ne yapmalı",
    },
    "en": {
        "language_name": "English",
        "date_format": "%Y-%m-%d %H:%M",
        "alert": "Alert",
        "kinds": {
            "help": "A customer is asking for help",
            "response": "Negative feedback",
            "window": "Satisfaction dropped",
            "offline": "Kiosk silent",
            "health": "Kiosk needs attention",
        },
        "labels": {
            "site": "Site",
            "kiosk": "Kiosk",
            "time": "Time",
            "answers": "Answers",
            "asked": "The customer asked for",
            "state": "State",
            "what": "What happened",
        },
        "asked_help": "Someone to come to them; they are waiting at the kiosk.",
        "asked_nothing": "No help (they only answered negatively).",
        "window": "{negative} of {total} responses negative in the last {minutes:g} minutes ({percent} %).",
        "offline": "Silent for more than {minutes:g} minutes.",
        "health": {"disk": "disk nearly full", "backlog": "unsent answers are piling up", "refused": "answers were refused"},
        "states": {
            "open": "Open: nobody has taken it yet.",
            "acknowledged": "Taken by {by} ({time}).",
            "eta": "Expected in {eta} minutes.",
            "resolved": "Closed ({time}). Nothing to do.",
            "expired": "Expired ({time}): nobody took it in time.",
        },
        "callback_left": "The customer left a number to be called back ({time}); the call centre has it.",
        "ack": {
            "title": "Take this alert",
            "name": "Your name",
            "eta": "Minutes until you are there (optional)",
            "comment": "Comment (optional)",
            "button_help": "I'm on my way",
            "button": "I'll take it",
            "note": "Opening this page changes nothing. Pressing the button takes the alert in your name.",
            "done_title": "It's yours",
            "done": "Thank you, {name}. Alert #{id} is yours since {time}.",
            "done_help": "The kiosk is being told that you are on your way; the customer will see it on the screen.",
            "errors": {
                "name": "Type your name (at most 128 characters).",
                "eta": "Give the minutes as a whole number from 0 to {max_eta}, or leave it empty.",
                "comment": "The comment can be at most 500 characters.",
            },
        },
        "callback": {
            "title": "We'll call you back",
            "intro": "Sorry that nobody at {site} reached you in time. Leave your number and we will call you right away.",
            "phone": "Your phone number",
            "phone_hint": "e.g. 0532 123 45 67 or +44 20 7946 0958",
            "notice_title": "Your personal data (privacy notice)",
            "notice": [
                "Data controller: {controller}",
                "We store your phone number only to call you back about this feedback, on the basis of your consent.",
                "Stored: your phone number, the time of your request, the kiosk and your answers.",
                "Only our call centre sees your number; it is deleted after {days} days.",
                "You may withdraw your consent at any time and ask to see, correct or delete your data (GDPR Art. 15-17, KVKK Art. 11). Contact: {contact}.",
            ],
            "controller_unknown": "the operator of this site",
            "contact_unknown": "the staff at this site",
            "consent": "I have read the notice and agree to be called back and to my number being stored for this.",
            "button": "Call me back",
            "done_title": "We have your number",
            "done": "Thank you. We will call you on {phone}.",
            "done_more": "Our call centre has been told. You can close this page.",
            "errors": {
                "empty": "Please type your phone number.",
                "too_long": "That is too long: type only your phone number.",
                "not_a_number": "That does not look like a phone number: use digits, spaces and a leading + only.",
                "country": "The country code is unknown: start with one such as +44, or leave it out for a Turkish number.",
                "too_short": "The number looks short: type all its digits (e.g. 0532 123 45 67).",
                "too_long_number": "The number has too many digits: check them.",
                "invalid": "That is not a number in use: check the digits.",
                "consent": "Please tick the box so that we may call you.",
            },
        },
        "refused": {
            "ack": {
                "forged": (
                    "This link is not valid",
                    "It was not made by this system, or it was changed. Nothing was changed.",
                    "Open the link in the notification again, whole. If it still fails, tell your shift lead.",
                ),
                "malformed": (
                    "This link is incomplete",
                    "Part of it may have been cut off when it was copied. Nothing was changed.",
                    "Open the link in the notification again, whole.",
                ),
                "purpose": (
                    "This link is not for this page",
                    "It is not an acknowledge link. Nothing was changed.",
                    "Open the acknowledge link in the notification.",
                ),
                "expired": (
                    "This link has expired",
                    "Acknowledge links work for a limited time after they are sent. Nothing was changed.",
                    "If the alert is still open, use the link in the newest notification or ask your shift lead.",
                ),
                "used": ("This link has already been used", "Each acknowledge link works once. Nothing was changed.", "Nothing to do."),
                "cross_site": (
                    "This form was sent from another site",
                    "It did not come from this page. Nothing was changed.",
                    "Open the link in the notification directly and send the form from there.",
                ),
                "missing": ("Alert not found", "This link's alert is no longer kept. Nothing was changed.", "Ask your shift lead."),
                "state": ("This alert can no longer be taken", "Nothing was changed.", "Nothing to do."),
            },
            "callback": {
                "forged": (
                    "This code is not valid",
                    "It was not made by this system, or it was changed.",
                    "Scan the code on the kiosk again, or ask a member of staff.",
                ),
                "malformed": ("This code was read incompletely", "Part of the link is missing.", "Scan the code on the kiosk again."),
                "purpose": ("This link is not for this page", "It is not a call-back link.", "Scan the code on the kiosk."),
                "expired": ("This code has expired", "Call-back codes work for a short time.", "Scan a new code on the kiosk, or ask a member of staff."),
                "used": (
                    "We already have your number",
                    "A number was already left with this code; we will call you.",
                    "To give another number, ask a member of staff.",
                ),
                "cross_site": (
                    "This form was sent from another site",
                    "It did not come from this page; your number was not stored.",
                    "Scan the code on the kiosk and send the form from there.",
                ),
                "missing": ("Request not found", "There is no longer a record for this code.", "Ask a member of staff."),
            },
            "too_many": ("Too many requests", "Too many requests came from this address in a short time. Nothing was changed.", "Wait a minute and try again."),
            "not_found": ("Page not found", "There is no such page.", "Open the link from the notification or the kiosk."),
            "error": ("Something went wrong", "Your request could not be completed.", "Try again in a moment; if it persists, tell your shift lead."),
        },
        "fix": "What to do",
    },
}


def notice(language: str, controller: str, contact: str, days: int) -> list[str]:
    """The privacy notice's sentences as the customer reads them."""
    words = TEXT[language]["callback"]
    values = {"controller": controller or words["controller_unknown"], "contact": contact or words["contact_unknown"], "days": days}
    return [sentence.format(**values) for sentence in words["notice"]]


def notice_version(sentences: list[str], consent: str) -> str:
    """A fingerprint of exactly what the customer read and agreed to, stored with their consent."""
    return hashlib.sha256("\n".join([*sentences, consent]).encode()).hexdigest()[:16]
