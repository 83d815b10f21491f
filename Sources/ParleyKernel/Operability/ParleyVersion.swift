/// What `parley --version` prints and the operator console shows.
public enum ParleyVersion {
    public static let current = "0.3.0"
}
