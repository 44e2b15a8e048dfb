import pytest
from channels.layers import get_channel_layer

from portal.core.realtime import apublish


@pytest.mark.asyncio
async def test_publish_reaches_a_group_member_over_the_redis_layer():
    layer = get_channel_layer()
    assert type(layer).__name__ == "RedisChannelLayer"
    channel = await layer.new_channel()
    await layer.group_add("test-group", channel)

    await apublish("test-group", "run.event", {"seq": 7})

    message = await layer.receive(channel)
    assert message == {"type": "run.event", "seq": 7}
    await layer.group_discard("test-group", channel)
