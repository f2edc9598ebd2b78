"""Generation brief for one planned job (issue 3, item 5; seed 001 "Integration
with Video Pipeline").

The brief turns a recipe into the constraints the video pipeline must honour:
the exact scene count, guidance for the hook in scene 1 (one sentence per
``hook_type``), guidance for the ending in the final scene (one per
``ending_type``), a narration pacing range and a caption density range.

Ranges are the bucket definitions of SPEC §3 closed off at practical limits,
so every value in a range falls back into the recipe's bucket:

| bucket | narration wpm (target) | captions per second (target) |
|---|---|---|
| slow / sparse | 100–119 (110) | 0.15–0.29 (0.22) |
| medium | 120–160 (140) | 0.30–0.60 (0.45) |
| fast / dense | 161–190 (175) | 0.61–0.90 (0.75) |

The brief is a pure function of the recipe: the same recipe always gives the
same, JSON-serialisable dict (no timestamps, no randomness).
"""

from __future__ import annotations

from typing import Any, Mapping

from learning_loop.domain.recipe import Recipe

BRIEF_VERSION = 1

HOOK_GUIDANCE: dict[str, str] = {
    "question": "Open scene 1 with one compelling question that the video answers, spoken in the first sentence and shown on screen.",
    "statement": "Open scene 1 with one bold, surprising statement in the first sentence, with no preamble.",
    "visual": "Open scene 1 on the most striking image of the video and let it carry the first seconds with minimal narration.",
    "story": "Open scene 1 in the middle of a tiny story: a character, a place and a problem within the first two sentences.",
    "contrast": "Open scene 1 with a sharp before/after or this-versus-that comparison that sets up the tension.",
    "mystery": "Open scene 1 with an unexplained detail that opens a curiosity gap, and hold the answer back until later.",
}

ENDING_GUIDANCE: dict[str, str] = {
    "cliffhanger": "End the final scene on an unresolved turn that leaves viewers wanting the next part; do not wrap up.",
    "resolve": "End the final scene with a complete, satisfying conclusion that answers the opening hook.",
    "cta": "End the final scene with one clear call to action (follow, comment or watch next), spoken and on screen.",
    "loop": "End the final scene with a line or image that flows back into the opening so the video replays seamlessly.",
}

#: Narration pacing per bucket: (min wpm, max wpm, target wpm), inclusive.
WPM_RANGES: dict[str, tuple[int, int, int]] = {
    "slow": (100, 119, 110),
    "medium": (120, 160, 140),
    "fast": (161, 190, 175),
}

#: Caption density per bucket: (min, max, target) captions per second, inclusive.
CAPTION_DENSITY_RANGES: dict[str, tuple[float, float, float]] = {
    "sparse": (0.15, 0.29, 0.22),
    "medium": (0.30, 0.60, 0.45),
    "dense": (0.61, 0.90, 0.75),
}

_BODY_GUIDANCE = "Develop the topic; each scene adds one new beat and keeps the pacing and caption density below."


def generation_brief(recipe: Recipe | Mapping[str, Any]) -> dict[str, Any]:
    """The generation brief of ``recipe`` (a :class:`Recipe` or its six fields).

    Keys: ``brief_version``, ``preset``, ``scene_count``, ``hook``,
    ``ending``, ``narration``, ``captions``, ``scenes`` (one entry per scene
    with its role: hook, body or ending) and ``instructions`` (the same
    constraints as plain sentences, for a prompt).
    """
    if not isinstance(recipe, Recipe):
        recipe = Recipe(**dict(recipe))
    n = recipe.scene_count
    hook = HOOK_GUIDANCE[recipe.hook_type]
    ending = ENDING_GUIDANCE[recipe.ending_type]
    wpm_min, wpm_max, wpm_target = WPM_RANGES[recipe.narration_wpm_bucket]
    cap_min, cap_max, cap_target = CAPTION_DENSITY_RANGES[recipe.caption_density_bucket]

    scenes = []
    for i in range(1, n + 1):
        if i == 1:
            role, guidance = "hook", hook
        elif i == n:
            role, guidance = "ending", ending
        else:
            role, guidance = "body", _BODY_GUIDANCE
        scenes.append({"scene": i, "role": role, "guidance": guidance})

    instructions = [
        f"Use the {recipe.preset} preset.",
        f"Produce exactly {n} scenes.",
        hook,
        ending,
        f"Narrate at {wpm_min}-{wpm_max} words per minute (target {wpm_target}, {recipe.narration_wpm_bucket}).",
        f"Show {cap_min:.2f}-{cap_max:.2f} captions per second (target {cap_target:.2f}, {recipe.caption_density_bucket}).",
    ]
    return {
        "brief_version": BRIEF_VERSION,
        "preset": recipe.preset,
        "scene_count": n,
        "hook": {"type": recipe.hook_type, "scene": 1, "guidance": hook},
        "ending": {"type": recipe.ending_type, "scene": n, "guidance": ending},
        "narration": {
            "wpm_bucket": recipe.narration_wpm_bucket,
            "wpm_min": wpm_min,
            "wpm_max": wpm_max,
            "wpm_target": wpm_target,
        },
        "captions": {
            "density_bucket": recipe.caption_density_bucket,
            "per_second_min": cap_min,
            "per_second_max": cap_max,
            "per_second_target": cap_target,
        },
        "scenes": scenes,
        "instructions": instructions,
    }
