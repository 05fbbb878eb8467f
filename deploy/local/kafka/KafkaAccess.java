// Makes the broker's principals and access rules exactly what a plan says (run by
// deploy/local/kafka_access.py, which writes the plan from shared/contracts/channels.py):
//   java -cp '<kafka libs>/*' KafkaAccess.java <admin client properties> <plan>
// Plan lines, tab-separated: `user <name> <password>` (SCRAM-SHA-512 credential, upserted) and
// `acl <principal> <resource type> <pattern type> <resource name> <operation>` (ALLOW from any host).
// Rules on the broker that the plan does not hold are deleted, so a narrowed table narrows the
// broker. Prints counts only: never a password.

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ScramCredentialInfo;
import org.apache.kafka.clients.admin.ScramMechanism;
import org.apache.kafka.clients.admin.UserScramCredentialAlteration;
import org.apache.kafka.clients.admin.UserScramCredentialUpsertion;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class KafkaAccess {
    public static void main(String[] args) throws Exception {
        Properties props = new Properties();
        try (var in = Files.newInputStream(Path.of(args[0]))) {
            props.load(in);
        }
        List<UserScramCredentialAlteration> users = new ArrayList<>();
        Set<AclBinding> wanted = new HashSet<>();
        for (String line : Files.readAllLines(Path.of(args[1]))) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split("\t", -1);
            switch (f[0]) {
                case "user" -> users.add(new UserScramCredentialUpsertion(
                        f[1], new ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, 8192), f[2]));
                case "acl" -> wanted.add(new AclBinding(
                        new ResourcePattern(ResourceType.fromString(f[2].toUpperCase()), f[4], PatternType.fromString(f[3].toUpperCase())),
                        new AccessControlEntry(f[1], "*", AclOperation.fromString(f[5].toUpperCase()), AclPermissionType.ALLOW)));
                default -> throw new IllegalArgumentException("unknown plan line kind: " + f[0]);
            }
        }
        try (Admin admin = Admin.create(props)) {
            if (!users.isEmpty()) {
                admin.alterUserScramCredentials(users).all().get();
            }
            Collection<AclBinding> existing = admin.describeAcls(AclBindingFilter.ANY).values().get();
            List<AclBindingFilter> stale = existing.stream().filter(b -> !wanted.contains(b)).map(AclBinding::toFilter).toList();
            if (!stale.isEmpty()) {
                admin.deleteAcls(stale).all().get();
            }
            List<AclBinding> missing = wanted.stream().filter(b -> !existing.contains(b)).toList();
            if (!missing.isEmpty()) {
                admin.createAcls(missing).all().get();
            }
            System.out.printf("kafka access: %d principals, %d rules (%d added, %d removed)%n",
                    users.size(), wanted.size(), missing.size(), stale.size());
        }
    }
}
