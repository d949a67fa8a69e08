package org.ctcf.core;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

/** Shards split any id list into disjoint parts that cover it, by id alone. */
class ShardTest {
    @Test
    void shardsPartitionTheIdsIndependentlyOfTheirOrder() {
        List<String> ids = new ArrayList<>();
        for (int i = 0; i < 1000; i++) {
            ids.add("LUNG1-" + String.format("%03d", i));
        }
        for (int n : new int[] {1, 2, 3, 7}) {
            int[] owners = new int[ids.size()];
            int[] sizes = new int[n];
            for (int i = 0; i < ids.size(); i++) {
                int count = 0;
                for (int s = 0; s < n; s++) {
                    if (new Shard(s, n).owns(ids.get(i))) {
                        count++;
                        owners[i] = s;
                        sizes[s]++;
                    }
                }
                assertThat(count).as("exactly one shard owns " + ids.get(i)).isEqualTo(1);
            }
            for (int s = 0; s < n; s++) {
                assertThat(sizes[s]).as("shard %d/%d is about 1/%d of 1000", s, n, n)
                        .isBetween(1000 / n - 80, 1000 / n + 80);
            }
        }
        // a pinned assignment: the hash is part of the contract (shards of one cohort on different machines)
        assertThat(Shard.hash("a")).isEqualTo(0xca978112ca1bbdcaL);
    }

    @Test
    void parsing() {
        assertThat(Shard.parse("2/4")).isEqualTo(new Shard(2, 4));
        assertThat(Shard.parse(" 0 / 1 ")).isEqualTo(Shard.ALL);
        for (String bad : new String[] {"4/4", "-1/3", "1", "a/b", "1/0", ""}) {
            assertThatThrownBy(() -> Shard.parse(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("I/N");
        }
    }
}
