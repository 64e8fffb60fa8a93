"""Write the bundled sample chat logs (run once; the output is committed).

Everything here is made up for streamchat: a fictional channel (`pixelpaws`, a cozy game
streamer), invented chatters, and hand-written lines, emotes and events. Nothing is copied from
real chat logs. The files use tcd's `default` format (`[H:MM:SS] <name> message`), one file per
stream, named like VOD ids, and hold what real chat holds so every cleaning rule has work:
bots, `!commands`, sub/gift/raid notices, links, @mentions and bare usernames, emote trains,
copypasta walls, invisible characters, questions and their answers.

    python data/sample/make_sample.py      # rewrites data/sample/*.txt, same output every time
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
STREAMS = [  # (file name = "VOD id", game, length in lines)
    ("900000101", "Hollow Knight", 1300),
    ("900000102", "Stardew Valley", 1100),
    ("900000103", "Celeste", 1200),
    ("900000104", "Hollow Knight", 1000),
    ("900000105", "Just Chatting", 900),
]

CHANNEL_EMOTES = ["pawsHi", "pawsLove", "pawsRage", "pawsCozy", "pawsLUL", "pawsPog", "pawsSip", "pawsBonk"]
GLOBAL_EMOTES = ["Kappa", "LUL", "PogChamp", "BibleThump", "Kreygasm", "NotLikeThis", "SeemsGood", "HeyGuys"]
THIRD_PARTY = ["KEKW", "Pog", "Sadge", "monkaS", "catJAM", "PepeLaugh", "OMEGALUL", "widepeepoHappy",
               "Clap", "peepoClap", "COPIUM", "LULW", "EZ", "pepeD", "FeelsStrongMan", "monkaW"]
EMOTES = set(CHANNEL_EMOTES + GLOBAL_EMOTES + THIRD_PARTY)
REACTION_EMOTES = {
    "hype": ["Pog", "PogChamp", "pawsPog", "Kreygasm", "catJAM", "EZ", "Clap"],
    "fail": ["LUL", "KEKW", "OMEGALUL", "pawsLUL", "LULW", "PepeLaugh", "NotLikeThis"],
    "sad": ["Sadge", "BibleThump", "NotLikeThis", "FeelsStrongMan", "COPIUM"],
    "scary": ["monkaS", "monkaW", "NotLikeThis"],
    "cozy": ["pawsCozy", "pawsSip", "widepeepoHappy", "pawsLove", "catJAM"],
}

ADJ = ["quiet", "sleepy", "lucky", "angry", "tiny", "cosmic", "salty", "frosty", "mellow", "rapid", "fuzzy",
       "grumpy", "sunny", "lazy", "brave", "mystic", "crispy", "soggy", "loud", "gentle"]
NOUN = ["otter", "panda", "waffle", "toaster", "badger", "comet", "noodle", "cactus", "pixel", "gecko",
        "muffin", "walrus", "pigeon", "goblin", "turnip", "falcon", "pebble", "lemur", "taco", "moth"]

GAME_LINES = {
    "Hollow Knight": {
        "events": [("boss", "scary"), ("death", "fail"), ("win", "hype"), ("secret", "hype"), ("lost", "fail")],
        "talk": ["this boss is so hard", "the music in this area is insane", "go left there is a bench",
                 "you missed the grub", "pogo on the spikes", "dash dash dash", "this game is a masterpiece",
                 "silksong when", "nail upgrade first", "equip quick slash", "mantis lords are fair fights",
                 "the map is upside down again", "did you buy the lantern", "he forgot to rest at the bench",
                 "the knight is so cute", "city of tears is my favourite area", "hornet is the best"],
        "questions": [("what charms are you using", ["quick slash and unbreakable strength", "the usual ones",
                                                     "check the menu chat"]),
                      ("how many hours in is this", ["like 20", "she said 25 yesterday", "around 30 i think"]),
                      ("is this the first playthrough", ["yes blind run", "second time, first was years ago"])],
    },
    "Stardew Valley": {
        "events": [("harvest", "cozy"), ("festival", "hype"), ("crow", "sad"), ("fishing", "fail"), ("gift", "cozy")],
        "talk": ["plant more strawberries", "give abigail an amethyst", "the crows ate everything", "build a silo",
                 "fishing minigame is pain", "marry sebastian", "water the crops", "cozy farm vibes",
                 "dont forget the community center", "the mines are open", "ancient fruit wine is money",
                 "pierre is a scammer", "linus deserves better", "rainy day fishing", "the chickens are so cute"],
        "questions": [("what season is it", ["summer 12", "fall year 2", "spring day 3"]),
                      ("who is she going to marry", ["leah obviously", "shane", "she said haley maybe"]),
                      ("is this modded", ["no vanilla", "only a ui mod"])],
    },
    "Celeste": {
        "events": [("death", "fail"), ("strawberry", "hype"), ("chapter", "hype"), ("death", "fail"), ("badeline", "scary")],
        "talk": ["wavedash", "one more try", "the music is incredible", "assist mode is fine btw",
                 "you got this", "so close", "that jump was clean", "grab the strawberry", "skip it",
                 "the b side is brutal", "madeline deserves the world", "climb climb climb", "deaths counter going up",
                 "this room took me an hour", "her movement is so clean"],
        "questions": [("how many deaths so far", ["like 900", "over a thousand", "check the counter"]),
                      ("what chapter is this", ["chapter 7 the summit", "the core", "mirror temple"]),
                      ("is she going for all berries", ["no just the ones on the way", "yes full clear"])],
    },
    "Just Chatting": {
        "events": [("story", "fail"), ("cat", "cozy"), ("food", "cozy"), ("pet", "cozy"), ("news", "hype")],
        "talk": ["the cat is on the keyboard again", "what did you eat today", "show the cat", "tell the story again",
                 "good morning chat", "this is the best part of the week", "tea or coffee", "lets go",
                 "the new overlay looks great", "she is so wholesome", "when is the next stream", "hydrate",
                 "what are we playing next", "the cat is judging us", "cozy stream today"],
        "questions": [("whats the cats name", ["biscuit", "its biscuit", "biscuit obviously"]),
                      ("what are you drinking", ["green tea", "she said chamomile", "tea like always"]),
                      ("when is the next stream", ["thursday", "check the schedule", "schedule says thursday"])],
    },
}

COMMON = ["lol", "lmao", "true", "no way", "W", "L", "bro", "chat is wild today", "hi chat", "hello hello",
          "good stream", "im back", "what did i miss", "same", "real", "fr", "yep", "nope", "hahaha", "omg",
          "ok", "sheesh", "wait what", "clip that", "that was smooth", "first time here", "love this",
          "we are so back", "its over", "chat behave", "oh no", "let her cook", "insane", "based"]
GREETINGS = ["hi {streamer}", "hello {streamer} {emote}", "pawsHi", "pawsHi pawsHi", "good morning pawsHi",
             "hey everyone HeyGuys", "im here {emote}", "evening chat"]
COPYPASTA = ("{emote} this is the cozy copypasta, if you are reading this you have been blessed by the "
             "cozy cat, paste this in three chats or your tea will be cold forever {emote}")
BOT_LINES = ["Follow the socials! https://twitter.example.com/pixelpaws", "Join the discord: discord.gg/pawsfake",
             "Remember to hydrate! pawsSip", "Today's schedule is on the panels below the stream.",
             "{user} has been a viewer for 14 days"]
COMMANDS = ["!uptime", "!discord", "!schedule", "!so {user}", "!lurk", "!points", "!hug {user}", "!socials"]


def user_pool(rng: random.Random, n: int) -> list[str]:
    names = set()
    while len(names) < n:
        style = rng.random()
        base = f"{rng.choice(ADJ)}_{rng.choice(NOUN)}" if style < 0.5 else f"{rng.choice(ADJ).title()}{rng.choice(NOUN).title()}"
        if rng.random() < 0.6:
            base += str(rng.randint(1, 999))
        names.add(base)
    return sorted(names)


def clock(seconds: int) -> str:
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def any_emote(rng: random.Random) -> str:
    pool = rng.choice([CHANNEL_EMOTES, GLOBAL_EMOTES, THIRD_PARTY, THIRD_PARTY])
    return rng.choice(pool)


def chat_line(rng: random.Random, game: dict, users: list[str], recent: list[str]) -> str:
    roll = rng.random()
    if roll < 0.22:
        return any_emote(rng)
    if roll < 0.45:
        line = rng.choice(COMMON)
    elif roll < 0.75:
        line = rng.choice(game["talk"])
    elif roll < 0.82:
        line = rng.choice(GREETINGS).format(streamer=rng.choice(["paws", "pixel", "pixelpaws", "@pixelpaws"]),
                                             emote=rng.choice(CHANNEL_EMOTES))
    elif roll < 0.90 and recent:
        target = rng.choice(recent)
        line = rng.choice([f"@{target} true", f"@{target} LUL", f"@{target} no way", f"{target.lower()} is right",
                           f"@{target} same", f"agree with {target.lower()}"])
    else:
        line = f"{rng.choice(COMMON)} {any_emote(rng)}"
    if rng.random() < 0.15:  # shouting: words in caps, emotes keep their case (or they don't show)
        line = " ".join(w if w in EMOTES else w.upper() for w in line.split(" "))
    if rng.random() < 0.25:
        line = f"{line} {any_emote(rng)}"
    return line


def write_stream(path: Path, game_name: str, length: int, users: list[str], rng: random.Random) -> None:
    game = GAME_LINES[game_name]
    t = rng.randint(2, 8)
    out: list[str] = []
    recent: list[str] = []
    regulars = users[:40]
    pending_answers: list[tuple[int, str, str]] = []  # (due line, asker, answer)

    def say(user: str, text: str) -> None:
        out.append(f"[{clock(t)}] <{user}> {text}")
        recent.append(user)
        del recent[:-12]

    while len(out) < length:
        t += int(rng.expovariate(1 / 2.5)) + (0 if rng.random() < 0.5 else 1)
        user = rng.choice(regulars) if rng.random() < 0.6 else rng.choice(users)
        due = [p for p in pending_answers if p[0] <= len(out)]
        if due:
            pending_answers.remove(due[0])
            _, asker, answer = due[0]
            replier = rng.choice(regulars)
            say(replier, f"@{asker} {answer}" if rng.random() < 0.7 else answer)
            continue
        roll = rng.random()
        if roll < 0.04:  # an event: a train of reactions
            event, mood = rng.choice(game["events"])
            emote = rng.choice(REACTION_EMOTES[mood])
            for _ in range(rng.randint(6, 28)):
                t += rng.randint(0, 1)
                reactor = rng.choice(users)
                variant = rng.random()
                text = emote if variant < 0.7 else (f"{emote} {emote} {emote}" if variant < 0.85 else f"{event} {emote}")
                say(reactor, text)
        elif roll < 0.07:
            question, answers = rng.choice(game["questions"])
            say(user, question + ("?" if rng.random() < 0.6 else ""))
            pending_answers.append((len(out) + rng.randint(1, 6), user, rng.choice(answers)))
        elif roll < 0.085:
            say("Nightbot", rng.choice(BOT_LINES).format(user=rng.choice(users)))
        elif roll < 0.10:
            say("StreamElements", rng.choice(BOT_LINES).format(user=rng.choice(users)))
        elif roll < 0.125:
            say(user, rng.choice(COMMANDS).format(user=rng.choice(users)))
        elif roll < 0.14:
            months = rng.randint(2, 40)
            notice = rng.choice([
                f"{user} subscribed at Tier 1. They've subscribed for {months} months!",
                f"{user} subscribed with Prime. They've subscribed for {months} months, currently on a {months} month streak!",
                f"{user} subscribed at Tier 1.",
                f"{user} gifted a Tier 1 sub to {rng.choice(users)}!",
                f"{user} is gifting {rng.randint(2, 20)} Tier 1 Subs to pixelpaws's community! They've gifted a total of {rng.randint(20, 90)} in the channel!",
                f"{user} converted from a Prime sub to a Tier 1 sub!",
            ])
            say(user, notice)
            for _ in range(rng.randint(0, 3)):
                say(rng.choice(users), rng.choice(["pawsLove", "pawsLove pawsLove", "welcome to the club", "W sub"]))
        elif roll < 0.145:
            say(user, f"{rng.randint(5, 80)} raiders from {rng.choice(users)} have joined!")
            for _ in range(rng.randint(4, 12)):
                say(rng.choice(users), rng.choice(["pawsHi", "RAID pawsHi", "hello from the raid", "pawsHi pawsHi"]))
        elif roll < 0.155:
            say(user, rng.choice([f"look at this https://clips.example.com/{rng.randint(1000, 9999)}",
                                  f"www.example.com/guide/{rng.choice(NOUN)}", "https://imgur.example.com/cat.png"]))
        elif roll < 0.16:
            say(user, COPYPASTA.format(emote=rng.choice(CHANNEL_EMOTES)))
        elif roll < 0.165:
            emote = rng.choice(THIRD_PARTY)
            say(user, " ".join([emote] * rng.randint(10, 30)))
        elif roll < 0.175:
            # Chatterino/7TV append U+E0000 to send the same line twice; some paste zero-width spaces.
            say(user, rng.choice(game["talk"]) + rng.choice([" \U000e0000", "\u200b", " \u200d"]))
        else:
            say(user, chat_line(rng, game, users, recent))
    path.write_text("\n".join(out[:length]) + "\n", encoding="utf-8")


def main() -> None:
    rng = random.Random(20240105)
    users = user_pool(rng, 260)
    for name, game, length in STREAMS:
        write_stream(HERE / f"{name}.txt", game, length, users, rng)
        print(f"wrote {HERE / name}.txt ({length} lines, {game})")


if __name__ == "__main__":
    main()
