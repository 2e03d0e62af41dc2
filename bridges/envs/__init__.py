"""Built-in environments, registered with Gymnasium under ``modalbridge/``.

    gymnasium.make('modalbridge/CaptionRoom-v0')
"""

import gymnasium

from modalbridge.bridges.envs.caption_room import CaptionRoom

ID = 'modalbridge/CaptionRoom-v0'
if ID not in gymnasium.registry:
    gymnasium.register(ID, entry_point='modalbridge.bridges.envs.caption_room:CaptionRoom',
                       max_episode_steps=None)

__all__ = ['CaptionRoom', 'ID']
